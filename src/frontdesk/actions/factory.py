"""A business's booking desk, assembled from its profile (backend, deadlines, secrets).

Secrets come from environment variables named in the profile, never from the profile
itself; a missing one is a :class:`BackendConfigError` at start-up, not at the first
booking of the day.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime

from frontdesk.actions.booking import BookingDesk, DeskSettings
from frontdesk.actions.connectors.base import Connector
from frontdesk.actions.executor import Executor
from frontdesk.profile import Profile
from frontdesk.store import BusinessStore

__all__ = ["BackendConfigError", "build_connector", "build_desk"]


class BackendConfigError(ValueError):
    """The profile names a backend whose settings or secrets are missing."""


def build_connector(profile: Profile, env: Mapping[str, str]) -> Connector | None:
    """The external connector the profile asks for, or None for the built-in calendar."""
    booking = profile.booking
    if booking.backend == "caldav":
        from frontdesk.actions.connectors.caldav import CalDAVConnector, CalDAVSettings

        assert booking.caldav is not None
        password = _secret(env, booking.caldav.password_env, profile)
        return CalDAVConnector(CalDAVSettings(
            url=booking.caldav.url, username=booking.caldav.username, password=password))
    if booking.backend == "crm":
        from frontdesk.actions.connectors.crm import CrmConnector, CrmSettings

        crm = booking.crm
        assert crm is not None
        secret = _secret(env, crm.secret_env, profile)
        settings = CrmSettings(
            base_url=crm.base_url, secret=secret.encode(), create_path=crm.create_path,
            find_path=crm.find_path, list_path=crm.list_path, cancel_path=crm.cancel_path,
            field_map=dict(crm.field_map))
        return CrmConnector(settings)
    return None


def build_desk(
    profile: Profile, store: BusinessStore, *, clock: Callable[[], datetime],
    env: Mapping[str, str] | None = None,
) -> BookingDesk:
    connector = build_connector(profile, os.environ if env is None else env)
    booking = profile.booking
    settings = DeskSettings(in_call_budget_s=booking.in_call_budget_ms / 1000,
                            request_s=booking.request_timeout_ms / 1000)
    executor = Executor(connector) if connector is not None else None
    return BookingDesk(profile, store, clock=clock, executor=executor, settings=settings)


def _secret(env: Mapping[str, str], name: str, profile: Profile) -> str:
    value = env.get(name, "")
    if not value:
        raise BackendConfigError(
            f"{profile.business.id}: booking backend {profile.booking.backend} needs the "
            f"environment variable {name}")
    return value
