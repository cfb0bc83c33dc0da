"""Routing an inbound call to its business by the number dialled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from frontdesk.profile import (
    Profile,
    ProfileError,
    ProfileRegistry,
    RegistryError,
    example_profile_text,
)


def make(business_id: str, *numbers: str) -> Profile:
    data: dict[str, Any] = yaml.safe_load(example_profile_text())
    data["business"].update(id=business_id, phone_numbers=list(numbers))
    return Profile.model_validate(data)


def test_lookup_by_number_and_id() -> None:
    a, b = make("shop-a", "+15125550100", "+15125550101"), make("shop-b", "+15125550200")
    registry = ProfileRegistry([a, b])
    assert registry.by_number("+15125550101") is a
    assert registry.by_number("+1 (512) 555-0200") is b
    assert registry.by_id("shop-b") is b
    assert registry.get_by_number("+19999999999") is None and registry.get_by_id("x") is None
    assert len(registry) == 2 and "shop-a" in registry and registry.ids == ["shop-a", "shop-b"]
    with pytest.raises(KeyError):
        registry.by_number("+19999999999")
    with pytest.raises(KeyError):
        registry.by_id("shop-c")


def test_duplicate_business_id() -> None:
    with pytest.raises(RegistryError, match="duplicate business id 'shop-a'"):
        ProfileRegistry([make("shop-a", "+15125550100"), make("shop-a", "+15125550200")])


def test_duplicate_phone_number() -> None:
    with pytest.raises(RegistryError, match=r"\+15125550100 belongs to both 'shop-a' and 'shop-b'"):
        ProfileRegistry([make("shop-a", "+15125550100"), make("shop-b", "+15125550100")])


def test_from_directory(tmp_path: Path) -> None:
    for name, number in (("shop-a", "+15125550100"), ("shop-b", "+15125550200")):
        (tmp_path / f"{name}.yaml").write_text(
            yaml.safe_dump(make(name, number).model_dump(mode="json"))
        )
    registry = ProfileRegistry.from_directory(tmp_path)
    assert registry.ids == ["shop-a", "shop-b"]
    (tmp_path / "broken.yml").write_text("business: [")
    with pytest.raises(ProfileError, match="broken.yml"):
        ProfileRegistry.from_directory(tmp_path)
