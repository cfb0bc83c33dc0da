"""A business's booking backend, from its profile: validation, secrets from the env."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from calendar_helpers import ProfileFactory
from pydantic import ValidationError

from frontdesk.actions.factory import BackendConfigError, build_desk
from frontdesk.store import Store

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def test_builtin_is_the_default(make_profile: ProfileFactory, store: Store) -> None:
    profile = make_profile()
    desk = build_desk(profile, store.for_business(profile.business.id), clock=clock,
                      env={})
    assert desk.executor.name == "builtin" and not desk.external


@pytest.mark.parametrize("backend", ["caldav", "crm"])
def test_an_external_backend_needs_its_section(
    make_profile: ProfileFactory, backend: str
) -> None:
    with pytest.raises(ValidationError, match=f"booking.{backend}: required"):
        make_profile(booking={"backend": backend})


@pytest.mark.parametrize(("section", "variable"), [
    ({"backend": "crm", "crm": {"base_url": "http://127.0.0.1:9/api"}}, "FRONTDESK_CRM_SECRET"),
    ({"backend": "caldav", "caldav": {"url": "http://127.0.0.1:9/u/cal/", "username": "u"}},
     "FRONTDESK_CALDAV_PASSWORD"),
])
async def test_secrets_come_from_the_environment(
    make_profile: ProfileFactory, store: Store, section: dict[str, Any], variable: str
) -> None:
    profile = make_profile(booking=section)
    business = store.for_business(profile.business.id)
    with pytest.raises(BackendConfigError, match=variable):
        build_desk(profile, business, clock=clock, env={})
    desk = build_desk(profile, business, clock=clock,
                      env={variable: "s3cret"})
    assert desk.external and desk.executor.name == section["backend"]
    assert desk.settings.in_call_budget_s == 2.5 and desk.settings.request_s == 1.2
    await desk.aclose()


def test_a_caldav_url_must_be_a_collection(make_profile: ProfileFactory) -> None:
    with pytest.raises(ValidationError, match="booking.caldav.url"):
        make_profile(booking={"backend": "caldav",
                              "caldav": {"url": "http://dav/u/cal", "username": "u"}})
