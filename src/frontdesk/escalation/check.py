"""``frontdesk policy check``: what the policy decides for an utterance, as JSON.

Each utterance is checked by a fresh per-call policy, so strikes and unclear-turn counts
never carry over from one line to the next: a line is judged as a caller's first words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from frontdesk.escalation.engine import TurnPolicy
from frontdesk.profile import Profile

__all__ = ["check_utterance"]


def check_utterance(profile: Profile, text: str, *, now: datetime) -> dict[str, Any]:
    verdict = TurnPolicy(profile).check(text, now=now)
    d = verdict.decision
    result: dict[str, Any] = {
        "text": text,
        "category": None if d is None else d.category,
        "action": None if d is None else d.action,
        "rule": None if d is None else d.rule,
        "evidence": None if d is None else d.evidence,
        "confidence": None if d is None else round(d.confidence, 3),
    }
    if d is not None:
        result.update(wanted=d.wanted, urgency=d.urgency, say=d.say, review=d.review,
                      to=None if d.to is None else {"name": d.to.name, "number": d.to.number})
    result["near_misses"] = [
        {"category": h.category, "rule": h.rule, "evidence": h.evidence,
         "confidence": round(h.confidence, 3), "vetoed_by": h.vetoed_by}
        for h in verdict.near_misses]
    return result
