"""Invalid profiles fail at load time with file, field and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from frontdesk.profile import ProfileError, example_profile_text, load_profile


def write(tmp_path: Path, data: Any, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(example_profile_text())
    return data


def errors_for(tmp_path: Path, data: Any) -> list[tuple[str, str]]:
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, data))
    assert info.value.path == str(tmp_path / "x.yaml")
    return info.value.errors


CASES = [
    (lambda d: d["services"][1].update(duration_minutes=0), "services[1].duration_minutes",
     "Input should be greater than 0"),
    (lambda d: d["services"][0].update(price=-1), "services[0].price",
     "greater than or equal to 0"),
    (lambda d: d["hours"].update(monday=[["17:00", "08:00"]]), "hours.monday[0]",
     "opens at 17:00 but closes at 08:00"),
    (lambda d: d["hours"].update(tuesday=[["08:00", "12:00"], ["11:00", "15:00"]]), "hours.tuesday",
     "overlap"),
    (lambda d: d["hours"].update(friday=[["8am", "17:00"]]), "hours.friday[0][0]", "HH:MM"),
    (lambda d: d["hours"].update(friday=[[480, "17:00"]]), "hours.friday[0][0]", "quoted"),
    (lambda d: d["business"].update(timezone="America/Chicgo"), "business.timezone",
     "unknown time zone"),
    (lambda d: d["business"].update(phone_numbers=["5125550100"]), "business.phone_numbers[0]",
     "E.164"),
    (lambda d: d["business"].update(phone_numbers=["+15125550100", "+15125550100"]),
     "business.phone_numbers[1]", "duplicate"),
    (lambda d: d["business"].update(phone_numbers=[]), "business.phone_numbers", "at least 1"),
    (lambda d: d["business"].update(greeting="   "), "business.greeting", "must not be empty"),
    (lambda d: d["business"].update(id="Main Street"), "business.id", "lowercase"),
    (lambda d: d["services"].append(dict(d["services"][0], name="x", aliases=[])),
     "services[4].id", "duplicate service id 'oil-change'"),
    (lambda d: d["resources"].append(dict(d["resources"][0])), "resources[2].id",
     "duplicate resource id 'bay-1'"),
    (lambda d: d["services"][2].update(resource_kind="lift"), "services[2].resource_kind",
     "no resource of kind 'lift'"),
    (lambda d: d["services"][2].update(aliases=["brakes"]), "services[2].aliases[0]",
     "already names service 'brake-inspection'"),
    (lambda d: d.update(hourz={}), "hourz", "unknown field"),
    (lambda d: d["engine"]["providers"].update(stt="google"), "engine.providers.stt",
     "'whisper' or 'stub'"),
    (lambda d: d["engine"].update(speculative_pause_ms=900), "engine.speculative_pause_ms",
     "endpoint_silence_ms"),
    (lambda d: d.pop("services"), "services", "Field required"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "field", "reason"), CASES)
def test_invalid_profile_names_field_and_reason(
    tmp_path: Path, mutate: Any, field: str, reason: str
) -> None:
    data = example()
    mutate(data)
    errors = errors_for(tmp_path, data)
    assert any(f == field and reason in r for f, r in errors), errors


def test_message_format_one_line_per_error(tmp_path: Path) -> None:
    data = example()
    data["services"][1]["duration_minutes"] = 0
    data["policies"]["offer_count"] = 0
    path = write(tmp_path, data, "x.yaml")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    lines = str(info.value).splitlines()
    assert lines == [
        f"{path}: services[1].duration_minutes: Input should be greater than 0",
        f"{path}: policies.offer_count: Input should be greater than 0",
    ]
    assert isinstance(info.value, ValueError)
    assert (info.value.field, info.value.reason) == info.value.errors[0]


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    text = "business:\n  id: x\n  name: [unclosed\nhours: {}\n"
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, text))
    assert info.value.field.startswith("line ") and "invalid YAML" in info.value.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="nope.yaml: file not found"):
        load_profile(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("text", "found"), [("", "an empty file"), ("- a\n- b\n", "a list")])
def test_top_level_must_be_mapping(tmp_path: Path, text: str, found: str) -> None:
    with pytest.raises(ProfileError, match=f"expected a mapping at the top level, found {found}"):
        load_profile(write(tmp_path, text))


def test_constructor_single_error() -> None:
    err = ProfileError("p.yaml", "business.id", "bad")
    assert str(err) == "p.yaml: business.id: bad" and err.errors == [("business.id", "bad")]
