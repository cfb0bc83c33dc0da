"""The escalation decision for one caller turn (sans-IO, one instance per call).

Runs before the brain on every turn and regardless of it: detectors find hits, the
profile's policy maps the strongest one to an action, and routing turns a transfer no
one can take into a message. Counting state (strikes, unclear turns in a row) lives here,
so a caller who insults the agent once hears a warning and the second time is let go.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from frontdesk.escalation.detect import Hit, detect
from frontdesk.escalation.routing import Human, reachable
from frontdesk.profile import Profile
from frontdesk.profile.policy import Action, Category, Urgency

__all__ = ["Decision", "TurnPolicy", "Verdict"]

UNCLEAR_BELOW = 0.3  # an STT confidence under this is a turn the agent did not understand


@dataclass(frozen=True)
class Decision:
    category: Category
    action: Action  # what is done: a transfer only when someone can take it
    wanted: Action  # what the policy asked for (a transfer nobody could take: a message)
    urgency: Urgency
    rule: str
    evidence: str
    confidence: float
    say: str | None  # said first; the action's own words follow
    review: bool
    final: bool  # False: a strike short of the last, only ``say`` (the warning) is said
    to: Human | None = None  # who a transfer goes to

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["to"] = None if self.to is None else asdict(self.to)
        return data


@dataclass(frozen=True)
class Verdict:
    decision: Decision | None
    near_misses: list[Hit] = field(default_factory=list)  # audited, not acted on


class TurnPolicy:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.policy = profile.escalation
        self._strikes: dict[str, int] = {}
        self._unclear = 0

    def check(self, text: str, *, now: datetime, confidence: float = 1.0,
              dtmf: str | None = None, no_input: bool = False) -> Verdict:
        if dtmf is not None:
            if dtmf == "0" and self.policy.rule("human").enabled:
                return Verdict(self._decide(Hit("human", "human.dtmf_0", "0", 1.0), now))
            return Verdict(None)
        if no_input:
            return Verdict(None)  # silence is the brain's to re-prompt, not a misunderstanding
        if not text.strip() or confidence < UNCLEAR_BELOW:
            self._unclear += 1
            rule = self.policy.rule("misunderstanding")
            if rule.enabled and self._unclear >= self.policy.misunderstanding_turns:
                self._unclear = 0
                hit = Hit("misunderstanding", "misunderstanding.unclear_turns",
                          text.strip(), 1.0 - confidence)
                return Verdict(self._decide(hit, now))
            return Verdict(None)
        self._unclear = 0
        hits = detect(text, self.policy)
        live = [h for h in hits if h.vetoed_by is None]
        misses = [h for h in hits if h.vetoed_by is not None
                  and h.confidence >= self.policy.near_miss_above]
        if not live:
            return Verdict(None, misses)
        return Verdict(self._decide(live[0], now), misses + live[1:])

    def _decide(self, hit: Hit, now: datetime) -> Decision:
        rule = self.policy.rule(hit.category)
        wanted: Action = rule.action
        say = rule.say
        if hit.rule.startswith("out_of_scope."):
            topic = next(t for t in self.policy.out_of_scope
                         if t.id == hit.rule.removeprefix("out_of_scope."))
            wanted, say = topic.action, topic.say
        count = self._strikes[hit.category] = self._strikes.get(hit.category, 0) + 1
        final = count >= rule.strikes
        if not final:
            say = rule.warning or say
        action, to = wanted, None
        if wanted in ("warm_transfer", "cold_transfer"):
            to = reachable(self.profile, now)
            if to is None:
                action = "message"
        return Decision(hit.category, action, wanted, rule.urgency, hit.rule, hit.evidence,
                        hit.confidence, say, rule.review, final, to)
