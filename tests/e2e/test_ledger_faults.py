"""A short fault-injection run through real backends: the promises hold under every fault.

The full run (200 conversations per backend, latency up to 10 s) is
``bench/ledger_faults.py``; this one is small and quick, with the same fault mix.
"""

from __future__ import annotations

import pytest

from frontdesk.client.faultproxy import FaultKind
from frontdesk.client.ledger_sim import SimConfig, run_sim


@pytest.mark.parametrize("backend", ["caldav", "crm"])
async def test_no_false_confirmation_no_duplicate_nothing_lost(
    backend: str, store_url: str
) -> None:
    config = SimConfig(backend=backend,  # type: ignore[arg-type]
                       store_url=store_url, conversations=40,
                       seed=7, max_delay_s=2.0, hangup_rate=0.2, lose_rate=0.1)
    counts = await run_sim(config)
    assert counts.conversations == 40 and counts.no_offer == 0
    # every fault kind was injected at least once
    assert set(counts.write_faults) == {kind.value for kind in FaultKind}
    assert counts.false_confirmations_voice == 0 and counts.false_confirmations_text == 0
    assert counts.duplicate_bookings == 0
    assert counts.backend_bookings_not_confirmed_to_caller == 0
    assert counts.unsettled == 0
    assert counts.dropped_after_commit > 0
    assert counts.dropped_found_by_reconcile == counts.dropped_after_commit
    # what the backend holds is what was committed, minus what it dropped afterwards,
    # each of which is a callback task for a person
    assert counts.backend_bookings == counts.committed - counts.dropped_after_commit
    assert counts.callbacks == counts.dropped_after_commit
    assert counts.voice_confirmed + counts.texts.get("confirmed", 0) >= counts.committed
