"""Store fixtures shared by the store tests: one fresh database per test, on SQLite and
on the test PostgreSQL (``store_url`` in the top-level conftest), and two businesses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from frontdesk.store import BusinessStore, Store, open_store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def shop_a(store: Store) -> BusinessStore:
    return store.for_business("shop-a")


@pytest.fixture
def shop_b(store: Store) -> BusinessStore:
    return store.for_business("shop-b")
