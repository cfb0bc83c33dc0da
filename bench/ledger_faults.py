"""Booking conversations under injected backend faults; prints the run's counts as JSON.

    python bench/ledger_faults.py                      # 200 per backend, CalDAV and CRM
    python bench/ledger_faults.py --backend crm --conversations 50 --max-delay 2

Each backend (a real Radicale CalDAV server; the local REST CRM) sits behind the fault
proxy. Writes meet latency up to ``--max-delay`` seconds, 5xx before and after the write,
timeouts and resets after the write landed, and acknowledgements of writes that never
arrived; some callers hang up mid-write; after the calls, a share of committed bookings
is deleted behind frontdesk's back. See ``frontdesk/client/ledger_sim.py``.

``checks`` holds the issue's promises, each true or false: no false confirmation by
voice or text, no duplicate booking, every booking the backend holds confirmed to its
caller, every booking dropped after the call found by reconciliation, nothing left open.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from _stats import machine
from frontdesk.client.ledger_sim import SimConfig, SimCounts, run_sim


def checks(counts: SimCounts) -> dict[str, bool]:
    return {
        "no_false_confirmations": counts.false_confirmations_voice == 0
        and counts.false_confirmations_text == 0,
        "no_duplicate_bookings": counts.duplicate_bookings == 0,
        "every_held_booking_confirmed": counts.backend_bookings_not_confirmed_to_caller == 0,
        "every_dropped_write_found": counts.dropped_found_by_reconcile
        == counts.dropped_after_commit,
        "nothing_left_open": counts.unsettled == 0,
    }


async def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["caldav", "crm", "both"], default="both")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--max-delay", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--store-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    backends: list[Literal["caldav", "crm"]] = (
        ["caldav", "crm"] if args.backend == "both" else [args.backend])
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            url = args.store_url or f"sqlite:///{Path(tmp) / f'{backend}.db'}"
            config = SimConfig(backend=backend, store_url=url, seed=args.seed,
                               conversations=args.conversations, max_delay_s=args.max_delay)
            counts = await run_sim(config)
            runs.append({**counts.as_json(), "checks": checks(counts)})
    return {"machine": machine(), "seed": args.seed, "max_delay_s": args.max_delay,
            "runs": runs, "all_checks_pass": all(all(r["checks"].values()) for r in runs)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:])), indent=2))
