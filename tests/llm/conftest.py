"""Fixtures of the LLM brain's tests: a fresh SQLite store and the example profile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.store import BusinessStore, Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'frontdesk.db'}")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def profile() -> Profile:
    return parse_profile(example_profile_text(), "<example>")


@pytest.fixture
def business(store: Store, profile: Profile) -> BusinessStore:
    return store.for_business(profile.business.id)
