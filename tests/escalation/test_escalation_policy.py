"""The escalation section of a profile: defaults, overrides, routing, clear errors."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from frontdesk.escalation.routing import Human, reachable
from frontdesk.profile import Profile, ProfileError, example_profile_text, parse_profile

CHICAGO = ZoneInfo("America/Chicago")


def shop(**escalation: object) -> Profile:
    data = yaml.safe_load(example_profile_text())
    data["escalation"] = {**data["escalation"], **escalation}
    return parse_profile(yaml.safe_dump(data), "<shop>")


def test_a_profile_overrides_only_what_it_names() -> None:
    profile = shop(rules={"refund": {"action": "message", "urgency": "normal"}})
    refund = profile.escalation.rule("refund")
    assert (refund.action, refund.urgency) == ("message", "normal")
    assert refund.say == "I understand you'd like a refund."  # the default's words stay
    assert profile.escalation.rule("legal").action == "warm_transfer"


@pytest.mark.parametrize(("change", "where"), [
    ({"rules": {"refund": {"action": "shout"}}}, "escalation.rules.refund.action"),
    ({"rules": {"gossip": {"action": "message"}}}, "escalation.rules.gossip"),
    ({"near_miss_above": 0.9, "act_above": 0.8}, "escalation.near_miss_above"),
    ({"on_call": [{"name": "Sam", "number": "555-0100"}]}, "escalation.on_call[0].number"),
    ({"on_call": [{"name": "Sam", "number": "+15125550111", "days": ["funday"]}]},
     "escalation.on_call[0].days[0]"),
    ({"out_of_scope": [{"id": "tow", "phrases": ["tow"], "say": "No."},
                       {"id": "tow", "phrases": ["towing"], "say": "No."}]},
     "escalation.out_of_scope[1].id"),
])
def test_a_bad_policy_names_the_field_and_the_reason(change: dict[str, object],
                                                     where: str) -> None:
    with pytest.raises(ProfileError) as caught:
        shop(**change)
    assert where in str(caught.value)


def test_on_call_schedule_decides_who_takes_a_transfer() -> None:
    profile = shop()  # the owner, Monday to Friday in opening hours
    tuesday_10 = datetime(2026, 12, 1, 10, 0, tzinfo=CHICAGO)
    assert reachable(profile, tuesday_10) == Human("the owner", "+15125550199")
    assert reachable(profile, datetime(2026, 12, 1, 18, 0, tzinfo=CHICAGO)) is None  # closed
    assert reachable(profile, datetime(2026, 12, 5, 10, 0, tzinfo=CHICAGO)) is None  # Saturday
    assert reachable(profile, datetime(2026, 12, 25, 10, 0, tzinfo=CHICAGO)) is None  # holiday
    late = shop(on_call=[{"name": "Dana", "number": "+15125550111", "days": ["saturday"],
                          "hours": [["18:00", "23:00"]]}])
    assert reachable(late, datetime(2026, 12, 5, 19, 30, tzinfo=CHICAGO)) == Human(
        "Dana", "+15125550111")
    # no on-call list: the first transfer number, in opening hours only
    default = shop(on_call=[])
    assert reachable(default, tuesday_10) == Human("Front desk", "+15125550199")
    assert reachable(default, datetime(2026, 12, 6, 10, 0, tzinfo=CHICAGO)) is None  # Sunday
