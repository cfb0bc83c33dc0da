"""The shipped example profile and the helpers the rest of frontdesk relies on."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from frontdesk.profile import (
    Hours,
    Profile,
    describe_hours,
    example_profile_text,
    load_profile,
    parse_profile,
    write_example,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def profile() -> Profile:
    return parse_profile(example_profile_text())


def test_example_profile(profile: Profile) -> None:
    assert profile.business.id == "main-street-auto"
    assert profile.tz == ZoneInfo("America/Chicago")
    assert [s.id for s in profile.services] == [
        "oil-change",
        "brake-inspection",
        "tire-rotation",
        "state-inspection",
    ]
    oil = profile.service("oil-change")
    assert (oil.duration_minutes, oil.price) == (30, Decimal("49.95"))
    assert profile.service("state-inspection").price == Decimal("25.50")
    assert profile.service_by_name("Rotate my tires") == profile.service("tire-rotation")
    assert profile.service_by_name("car wash") is None
    assert profile.engine.providers.stt == "whisper" and profile.policies.offer_count == 3
    assert profile.business.greeting.startswith("Thanks for calling Main Street Auto")
    with pytest.raises(KeyError):
        profile.service("detailing")


def test_examples_copy_matches_shipped_file() -> None:
    assert (REPO / "examples" / "main-street-auto.yaml").read_text() == example_profile_text()


def test_opening_intervals_and_holidays(profile: Profile) -> None:
    chicago = profile.tz
    assert profile.opening_intervals(date(2026, 12, 5)) == [
        (datetime(2026, 12, 5, 9, tzinfo=chicago), datetime(2026, 12, 5, 13, tzinfo=chicago))
    ]
    assert profile.opening_intervals(date(2026, 12, 6)) == []  # Sunday
    assert profile.is_holiday(date(2026, 12, 25))
    assert profile.opening_intervals(date(2026, 12, 25)) == []  # a Friday, but Christmas
    assert profile.holiday(date(2027, 1, 1)) is not None
    opens, _ = profile.opening_intervals(date(2027, 3, 15))[0]  # after spring forward
    assert opens.utcoffset() == timedelta(hours=-5)


def test_describe_hours(profile: Profile) -> None:
    assert profile.describe_hours() == (
        "We're open Monday to Friday 8 AM to 5 PM and Saturday 9 AM to 1 PM; closed Sunday."
    )
    hours = Hours.model_validate(
        {
            "monday": [["08:30", "12:00"], ["13:00", "17:30"]],
            "tuesday": [["08:30", "12:00"], ["13:00", "17:30"]],
            "thursday": [["10:00", "14:00"]],
        }
    )
    assert describe_hours(hours.for_weekday) == (
        "We're open Monday and Tuesday 8:30 AM to 12 PM and 1 PM to 5:30 PM, "
        "Thursday 10 AM to 2 PM; closed Wednesday and Friday to Sunday."
    )
    assert describe_hours(Hours().for_weekday) == "We don't have regular opening hours."


def test_models_are_frozen(profile: Profile) -> None:
    with pytest.raises(ValidationError):
        profile.business.name = "Other"


def test_defaults_for_optional_sections() -> None:
    data = yaml.safe_load(example_profile_text())
    for key in ("engine", "policies", "holidays", "transfer_numbers"):
        del data[key]
    profile = Profile.model_validate(data)
    assert profile.engine.endpoint_silence_ms == 400 and profile.engine.stub.brain_token_ms == 20
    assert profile.policies.slot_step_minutes == 15 and profile.holidays == []


def test_write_example_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "profiles" / "shop.yaml"
    write_example(target)
    assert load_profile(target).business.name == "Main Street Auto"
    with pytest.raises(FileExistsError, match="already exists"):
        write_example(target)
    target.write_text("changed")
    write_example(target, overwrite=True)
    assert target.read_text() == example_profile_text()


def test_clock_times_parse(profile: Profile) -> None:
    assert profile.hours.monday == [(time(8), time(17))]
