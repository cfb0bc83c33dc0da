"""py-spy as a low-overhead sampling profiler of the server during one batch.

Unlike cProfile it barely slows the server down (it reads the process's memory from
outside, from the callers' core, without pausing it) and sees every thread. Time inside
a C extension (onnxruntime, numpy) counts as the Python frame that called it. (Native
frames would need the process paused for every sample, and py-spy then also samples
threads blocked on a lock as busy, so they are not offered.) py-spy is not a
dependency of frontdesk: give the path of a ``py-spy`` binary to use it.

Samples are "raw" collapsed stacks (``frame;frame;frame count``); idle threads are not
sampled, so the shares are of the server's busy time.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PySpy:
    binary: Path
    core: int
    out: Path
    rate: int = 100

    async def record(self, pid: int, seconds: float) -> int:
        args = ["record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                "--rate", str(self.rate), "--format", "raw", "--output", str(self.out),
                "--nonblocking"]
        process = await asyncio.create_subprocess_exec(
            "taskset", "-c", str(self.core), str(self.binary), *args,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        return await process.wait()


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").split("site-packages/")[-1].split("/src/")[-1]
    where = where.split("/lib/python3.11/")[-1]
    return f"{name} ({where})" if where else name


# frames every busy sample of the loop thread passes through: no news in a cumulative list
_ENTRY = ("typer/", "click/", "uvicorn/main.py", "uvicorn/server.py", "uvicorn/_compat.py",
          "asyncio/runners.py", "frontdesk/cli.py", "(frontdesk:", "threading.py")


def top_frames(path: Path, top: int) -> dict[str, Any]:
    """Own time per frame (the leaf of each sample; ``Runner.run`` as a leaf is the C event
    loop itself: epoll, socket reads and writes, callback dispatch), and cumulative time
    per frame, without the entry frames every sample of the loop thread shares."""
    own: collections.Counter[str] = collections.Counter()
    cumulative: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_short(f) for f in stack.split(";")]
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            cumulative[frame] += n

    def rows(counter: collections.Counter[str]) -> list[dict[str, Any]]:
        return [{"frame": f, "pct": round(100 * n / total, 1)} for f, n in counter.most_common(top)]

    for frame in [f for f in cumulative if any(entry in f for entry in _ENTRY)]:
        del cumulative[frame]
    return {"samples": total, "by_own_time": rows(own), "by_cumulative_time": rows(cumulative)}
