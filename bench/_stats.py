"""Helpers the benchmarks share: percentiles and the facts about the machine they ran on.

Percentiles interpolate linearly between the two nearest ranks (numpy's default), so a
p95 over 20 samples is not simply the largest but one.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 1)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99), "max": round(max(values), 1) if values else 0.0}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """Cores, CPU model, Python and OS: enough to tell whether two runs are comparable."""
    return {"cores": os.cpu_count(), "cpu_model": cpu_model(),
            "python": platform.python_version(), "platform": platform.platform(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
