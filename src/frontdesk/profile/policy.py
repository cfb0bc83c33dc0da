"""The escalation policy: which caller turns go to a human, and how (profile ``escalation:``).

Escalation is a product rule, not something a model improvises: every category has a
built-in detector (see ``frontdesk.escalation``) and a default action below. A profile
overrides only what it names, per category (``rules: {refund: {action: message}}``), adds
trigger phrases or vetoes of its own, lists the topics it does not handle
(``out_of_scope``) and says who can take a transfer when (``on_call``; by default the
transfer numbers during opening hours).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from frontdesk.profile.fields import (
    WEEKDAYS,
    ConsistencyError,
    Interval,
    Phone,
    Slug,
    Text,
    _Frozen,
)

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "Action",
    "Category",
    "Escalation",
    "EscalationRule",
    "OnCall",
    "OutOfScope",
    "RuleOverride",
    "Urgency",
]

Category = Literal["emergency", "threat", "self_harm", "legal", "abuse", "dispute", "refund",
                   "human", "misunderstanding", "out_of_scope"]
# the order a turn is checked in: the first category that fires decides
CATEGORIES: tuple[Category, ...] = ("emergency", "threat", "self_harm", "legal", "abuse",
                                    "dispute", "refund", "human", "misunderstanding",
                                    "out_of_scope")
# warm_transfer: a human hears a summary first; inform: say the rule's line and go on;
# flag: nothing changes in the call, the call is marked for review
Action = Literal["warm_transfer", "cold_transfer", "message", "end_call", "inform", "flag"]
ACTIONS: tuple[Action, ...] = ("warm_transfer", "cold_transfer", "message", "end_call",
                               "inform", "flag")
Urgency = Literal["low", "normal", "high", "urgent"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class EscalationRule(_Frozen):
    """What happens when a category fires (the defaults below, merged with the profile)."""

    enabled: bool = True
    action: Action
    urgency: Urgency = "normal"
    say: Text | None = None  # said first, before the action's own words
    review: bool = False  # flag the call for review as well
    strikes: int = Field(default=1, ge=1, le=5)  # turns that fire before the action
    warning: Text | None = None  # said on a strike short of the last
    phrases: list[Text] = []  # the profile's own triggers, whole words, any case
    unless: list[Text] = []  # the profile's own vetoes ("emergency brake")


class RuleOverride(_Frozen):
    """A profile's change to one category: only the fields it names."""

    enabled: bool | None = None
    action: Action | None = None
    urgency: Urgency | None = None
    say: Text | None = None
    review: bool | None = None
    strikes: int | None = Field(default=None, ge=1, le=5)
    warning: Text | None = None
    phrases: list[Text] | None = None
    unless: list[Text] | None = None


DEFAULT_RULES: dict[Category, EscalationRule] = {
    "emergency": EscalationRule(
        action="warm_transfer", urgency="urgent", review=True,
        say="If anyone is hurt or in danger, please hang up and call 9 1 1 right now."),
    "threat": EscalationRule(
        action="end_call", urgency="urgent", review=True,
        say="I'm not able to continue this call. I'll let the team know. Goodbye."),
    "self_harm": EscalationRule(
        action="inform", urgency="urgent", review=True,
        say="I'm really sorry you're going through this. You can call or text 9 8 8 any "
            "time to reach the Suicide and Crisis Lifeline, and if you're in danger right "
            "now, please call 9 1 1."),
    "legal": EscalationRule(action="warm_transfer", urgency="urgent", review=True,
                            say="I understand. This needs the owner's attention."),
    "abuse": EscalationRule(
        action="end_call", urgency="normal", review=True, strikes=2,
        warning="I'd like to help, but I need us to keep this respectful.",
        say="I'm going to end the call now. Please call back any time. Goodbye."),
    "dispute": EscalationRule(action="warm_transfer", urgency="high",
                              say="I'm sorry about the trouble with your bill."),
    "refund": EscalationRule(action="warm_transfer", urgency="high",
                             say="I understand you'd like a refund."),
    "human": EscalationRule(action="cold_transfer", urgency="normal"),
    "misunderstanding": EscalationRule(action="message", urgency="normal",
                                       say="I'm sorry, I'm having trouble understanding."),
    "out_of_scope": EscalationRule(action="inform", urgency="low"),
}


class OutOfScope(_Frozen):
    """A topic the business does not handle; ``say`` is what the caller hears."""

    id: Slug
    phrases: list[Text] = Field(min_length=1)
    say: Text
    action: Action = "inform"


class OnCall(_Frozen):
    """A person who takes transfers on these days, in these hours (default: opening hours)."""

    name: Text
    number: Phone
    days: list[Weekday] = list(WEEKDAYS)  # type: ignore[arg-type]
    hours: list[Interval] | None = None


class Escalation(_Frozen):
    rules: dict[Category, RuleOverride] = {}
    out_of_scope: list[OutOfScope] = []
    on_call: list[OnCall] = []  # empty: the profile's transfer numbers, in opening hours
    notify_sms: Phone | None = None  # where messages are texted (default: first transfer number)
    misunderstanding_turns: int = Field(default=3, ge=2, le=10)  # unclear turns in a row
    act_above: float = Field(default=0.65, gt=0, le=1)  # a classifier alone acts from here
    near_miss_above: float = Field(default=0.5, gt=0, le=1)  # ... and is audited from here
    transfer_timeout_s: int = Field(default=20, ge=5, le=60)  # ringing before "no answer"

    @model_validator(mode="after")
    def _check(self) -> Escalation:
        issues: list[tuple[str, str]] = []
        if self.near_miss_above > self.act_above:
            issues.append(("escalation.near_miss_above", "must not exceed act_above"))
        seen: set[str] = set()
        for i, topic in enumerate(self.out_of_scope):
            if topic.id in seen:
                issues.append((f"escalation.out_of_scope[{i}].id", f"duplicate id {topic.id!r}"))
            seen.add(topic.id)
        for i, person in enumerate(self.on_call):
            for j, (start, end) in enumerate(person.hours or []):
                if end <= start:
                    issues.append((f"escalation.on_call[{i}].hours[{j}]",
                                   "closing time must be after opening time"))
        if issues:
            raise ConsistencyError(issues)
        return self

    def rule(self, category: Category) -> EscalationRule:
        """The category's rule: the default with the profile's changes applied."""
        base = DEFAULT_RULES[category]
        change = self.rules.get(category)
        if change is None:
            return base
        return base.model_copy(update=change.model_dump(exclude_none=True))
