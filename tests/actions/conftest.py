"""Fixtures for the built-in calendar: the shipped example profile on a fresh SQLite file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from calendar_helpers import ProfileFactory

from frontdesk.actions.calendar import Calendar
from frontdesk.profile import Profile, example_profile_text
from frontdesk.store import Store, open_store


@pytest.fixture
def make_profile() -> ProfileFactory:
    """The example profile with top-level sections replaced, e.g. ``resources=[...]``."""

    def build(**sections: Any) -> Profile:
        data = yaml.safe_load(example_profile_text())
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return Profile.model_validate(data)

    return build


POSTGRES_URL = os.environ.get("FRONTDESK_TEST_POSTGRES_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite file; also a wiped PostgreSQL when FRONTDESK_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres")
    s = open_store(url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def profile(make_profile: ProfileFactory) -> Profile:
    return make_profile()


@pytest.fixture
def calendar(profile: Profile, store: Store) -> Calendar:
    return Calendar(profile, store.for_business(profile.business.id))
