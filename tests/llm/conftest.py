"""Fixtures of the LLM brain's tests: a fresh store (SQLite and the test PostgreSQL, as
every store test) and the example profile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from frontdesk.profile import Profile, example_profile_text, parse_profile
from frontdesk.store import BusinessStore, Store, open_store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
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
