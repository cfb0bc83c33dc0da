"""The business profile: everything frontdesk knows about one business.

A profile is loaded once from YAML and then shared read-only between calls, so every
model is frozen and rejects unknown keys: a typo in the YAML must fail loudly at start-up,
not silently fall back to a default in the middle of a call.

Checks that span several fields (unique ids, resources for each service, aliases that
point to one service) are collected into one :class:`ConsistencyError` so that the
loader can report every problem with its precise location at once.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    model_validator,
)

from frontdesk.profile.describe import describe_hours
from frontdesk.profile.fields import (
    WEEKDAYS,
    ConsistencyError,
    Interval,
    Phone,
    Slug,
    Text,
    _Frozen,
)
from frontdesk.profile.llm import LlmSettings
from frontdesk.profile.policy import Escalation

__all__ = [
    "WEEKDAYS",
    "BookingBackend",
    "Business",
    "CalDAVBackend",
    "ConsistencyError",
    "CrmBackend",
    "EngineSettings",
    "Holiday",
    "Hours",
    "Interval",
    "Policies",
    "Profile",
    "Providers",
    "Recording",
    "Resource",
    "Service",
    "Sessions",
    "StubTimings",
    "TransferNumber",
]



class Business(_Frozen):
    id: Slug
    name: Text
    timezone: str
    phone_numbers: list[Phone] = Field(min_length=1)
    address: str | None = None
    greeting: Text

    @model_validator(mode="after")
    def _check(self) -> Business:
        issues: list[tuple[str, str]] = []
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            issues.append(("business.timezone", f"unknown time zone {self.timezone!r}"))
        seen: set[str] = set()
        for i, number in enumerate(self.phone_numbers):
            if number in seen:
                issues.append((f"business.phone_numbers[{i}]", f"duplicate number {number}"))
            seen.add(number)
        if issues:
            raise ConsistencyError(issues)
        return self


class Hours(_Frozen):
    """Opening intervals per weekday; a missing or empty day means closed."""

    monday: list[Interval] = []
    tuesday: list[Interval] = []
    wednesday: list[Interval] = []
    thursday: list[Interval] = []
    friday: list[Interval] = []
    saturday: list[Interval] = []
    sunday: list[Interval] = []

    def for_weekday(self, weekday: int) -> list[Interval]:
        """Intervals for ``date.weekday()`` (0 = Monday), sorted by opening time."""
        intervals: list[Interval] = getattr(self, WEEKDAYS[weekday])
        return sorted(intervals)

    @model_validator(mode="after")
    def _check(self) -> Hours:
        issues: list[tuple[str, str]] = []
        for day in WEEKDAYS:
            intervals: list[Interval] = getattr(self, day)
            for i, (start, end) in enumerate(intervals):
                if start >= end:
                    issues.append(
                        (f"hours.{day}[{i}]", f"opens at {start:%H:%M} but closes at {end:%H:%M}")
                    )
            ordered = sorted(intervals)
            for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False):
                if start < end:
                    issues.append((f"hours.{day}", "opening intervals overlap"))
                    break
        if issues:
            raise ConsistencyError(issues)
        return self


class Holiday(_Frozen):
    date: date
    name: str = ""


class Service(_Frozen):
    id: Slug
    name: Text
    aliases: list[Text] = []
    duration_minutes: int = Field(gt=0)
    price: Decimal | None = Field(default=None, ge=0)
    resource_kind: Text


class Resource(_Frozen):
    id: Slug
    kind: Text
    name: Text


class TransferNumber(_Frozen):
    name: Text
    number: Phone


class Policies(_Frozen):
    slot_step_minutes: int = Field(default=15, gt=0, le=24 * 60)
    min_notice_minutes: int = Field(default=60, ge=0)
    booking_horizon_days: int = Field(default=60, gt=0, le=3 * 366)
    offer_count: int = Field(default=3, gt=0, le=20)


class Recording(_Frozen):
    """Call recording, done by frontdesk itself: one stereo WAV per call (caller left,
    agent right) under ``directory`` (relative paths are from the working directory, like
    the default database).

    When enabled, every recorded call opens with ``disclosure`` and no audio is written
    until the caller has heard all of it. There is deliberately no "only where required"
    switch: US consent law depends on where each party is (about a dozen states require
    every party's consent), and a caller's area code does not say where they are (mobile
    numbers travel with their owners and keep their code for life), so the only safe rule
    is to disclose on every recorded call.
    """

    enabled: bool = False
    disclosure: Text = "This call is recorded for quality and training."
    directory: Path = Path("var") / "recordings"

    def heard_in(self, played_text: str) -> bool:
        """Whether ``played_text`` (what the caller heard of a reply, as the engine counts
        it) holds the whole disclosure, word for word; a cut-off disclosure does not."""
        said = f" {' '.join(played_text.split())} "
        return f" {' '.join(self.disclosure.split())} " in said


class CalDAVBackend(_Frozen):
    """A CalDAV calendar collection (Radicale, Nextcloud, Fastmail, ...) holds bookings."""

    url: str = Field(pattern=r"^https?://.+/$")  # the collection URL, with its final slash
    username: str
    password_env: str = "FRONTDESK_CALDAV_PASSWORD"  # secrets stay out of the profile


class CrmBackend(_Frozen):
    """A REST CRM holds bookings; requests are HMAC-signed with the secret from the env."""

    base_url: str = Field(pattern=r"^https?://")
    secret_env: str = "FRONTDESK_CRM_SECRET"
    create_path: str = "/appointments"
    find_path: str = "/appointments?idempotency_key={key}"
    list_path: str = "/appointments?start={start}&end={end}"
    cancel_path: str = "/appointments/{id}"
    field_map: dict[str, str] = {}


class BookingBackend(_Frozen):
    """Where bookings are written. The built-in calendar needs nothing; an external one is
    written through the commitment ledger with these deadlines (the caller hears a filler
    after ``filler_ms`` and an answer, or a promised text, by about ``in_call_budget_ms``)."""

    backend: Literal["builtin", "caldav", "crm"] = "builtin"
    caldav: CalDAVBackend | None = None
    crm: CrmBackend | None = None
    in_call_budget_ms: int = Field(default=2500, ge=200, le=8000)
    request_timeout_ms: int = Field(default=1200, ge=100, le=30000)

    @model_validator(mode="after")
    def _check(self) -> BookingBackend:
        if self.backend == "caldav" and self.caldav is None:
            raise ConsistencyError([("booking.caldav", "required when backend is caldav")])
        if self.backend == "crm" and self.crm is None:
            raise ConsistencyError([("booking.crm", "required when backend is crm")])
        return self


class Sessions(_Frozen):
    """Calls that drop mid-task: how long a caller who rings back is offered to continue,
    how long the slot they were offered stays held, and whether (and when) frontdesk
    calls them back itself."""

    resume_window_hours: float = Field(default=24, gt=0, le=24 * 14)
    hold_minutes: float = Field(default=10, ge=0, le=24 * 60)
    callback: bool = False  # place an outbound call to finish a dropped booking
    callback_after_minutes: float = Field(default=5, ge=0, le=24 * 60)


class Providers(_Frozen):
    stt: Literal["whisper", "stub"] = "whisper"
    tts: Literal["piper", "stub"] = "piper"
    vad: Literal["silero", "energy"] = "silero"


class StubTimings(_Frozen):
    """Latencies the stub providers simulate, so budget tests run without models."""

    stt_final_ms: int = Field(default=100, ge=0)
    brain_first_text_ms: int = Field(default=50, ge=0)
    brain_token_ms: int = Field(default=20, ge=0)
    tts_first_audio_ms: int = Field(default=80, ge=0)
    tts_ms_per_char: float = Field(default=60.0, gt=0)  # how long the stub voice talks


class EngineSettings(_Frozen):
    budget_ms: int = Field(default=1000, gt=0)
    endpoint_silence_ms: int = Field(default=400, gt=0)
    speculative_pause_ms: int = Field(default=160, gt=0)
    no_input_timeout_ms: int = Field(default=6000, gt=0)
    # carriers send media every 20 ms, silence included: a stream quiet this long is dead
    media_timeout_ms: int = Field(default=10000, gt=0)
    providers: Providers = Providers()
    stub: StubTimings = StubTimings()

    @model_validator(mode="after")
    def _check(self) -> EngineSettings:
        # The speculative STT pass only saves time if it starts before the turn ends.
        if self.speculative_pause_ms > self.endpoint_silence_ms:
            raise ConsistencyError(
                [("engine.speculative_pause_ms", "must not exceed endpoint_silence_ms")]
            )
        return self


class Profile(_Frozen):
    """One business. Field order matters: resources are validated before services."""

    business: Business
    hours: Hours
    holidays: list[Holiday] = []
    resources: list[Resource] = []
    services: list[Service] = Field(min_length=1)
    transfer_numbers: list[TransferNumber] = []
    policies: Policies = Policies()
    recording: Recording = Recording()
    booking: BookingBackend = BookingBackend()
    sessions: Sessions = Sessions()
    escalation: Escalation = Escalation()
    engine: EngineSettings = EngineSettings()
    brain: Literal["rules", "llm"] = "rules"
    llm: LlmSettings | None = None

    @model_validator(mode="after")
    def _check(self) -> Profile:
        issues: list[tuple[str, str]] = []
        if self.brain == "llm" and self.llm is None:
            issues.append(("llm", "required when brain is llm"))
        issues += _duplicates("resources", [r.id for r in self.resources], "resource id")
        issues += _duplicates("services", [s.id for s in self.services], "service id")
        kinds = {r.kind for r in self.resources}
        owner: dict[str, str] = {}
        for i, service in enumerate(self.services):
            if service.resource_kind not in kinds:
                issues.append(
                    (
                        f"services[{i}].resource_kind",
                        f"no resource of kind {service.resource_kind!r} "
                        f"(resources have: {', '.join(sorted(kinds)) or 'none'})",
                    )
                )
            for j, word in enumerate([service.name, *service.aliases]):
                key = word.casefold()
                if owner.get(key, service.id) != service.id:
                    where = f"services[{i}].aliases[{j - 1}]" if j else f"services[{i}].name"
                    issues.append((where, f"{word!r} already names service {owner[key]!r}"))
                owner.setdefault(key, service.id)
        if issues:
            raise ConsistencyError(issues)
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.business.timezone)

    @cached_property
    def holiday_map(self) -> dict[date, Holiday]:
        return {h.date: h for h in self.holidays}

    def service(self, service_id: str) -> Service:
        """The service with this id; ``KeyError`` if the business does not offer it."""
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)

    def service_by_name(self, words: str) -> Service | None:
        """The service whose name or alias is exactly ``words`` (case-insensitive)."""
        key = words.strip().casefold()
        for service in self.services:
            if key in {w.casefold() for w in (service.name, *service.aliases)}:
                return service
        return None

    def resources_of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind]

    def is_holiday(self, day: date) -> bool:
        return day in self.holiday_map

    def holiday(self, day: date) -> Holiday | None:
        return self.holiday_map.get(day)

    def opening_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """Aware open/close datetimes in the business zone; empty when closed.

        A wall-clock time that does not exist on a DST change day resolves with fold=0,
        which zoneinfo maps to the offset in force before the change.
        """
        if self.is_holiday(day):
            return []
        return [
            (datetime.combine(day, start, self.tz), datetime.combine(day, end, self.tz))
            for start, end in self.hours.for_weekday(day.weekday())
        ]

    def describe_hours(self) -> str:
        """A short sentence the agent can speak, e.g. "We're open Monday to Friday ..."."""
        return describe_hours(self.hours.for_weekday)


def _duplicates(field: str, ids: list[str], what: str) -> list[tuple[str, str]]:
    seen: set[str] = set()
    issues = []
    for i, ident in enumerate(ids):
        if ident in seen:
            issues.append((f"{field}[{i}].id", f"duplicate {what} {ident!r}"))
        seen.add(ident)
    return issues
