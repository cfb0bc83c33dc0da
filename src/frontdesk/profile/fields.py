"""Field types every part of a profile shares: phone numbers, slugs, clock times."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer

WEEKDAYS: tuple[str, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)  # fmt: skip

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(:00)?$")


def _phone(value: str) -> str:
    if not _E164.match(value):
        raise ValueError(f"{value!r} is not an E.164 phone number like +15125550100")
    return value


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(f"{value!r} must be lowercase letters, digits and dashes")
    return value


def _clock(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 17:00 as the sexagesimal integer 1020: say so plainly.
    if isinstance(value, int):
        raise ValueError('times must be quoted "HH:MM" strings, e.g. "17:00"')
    if isinstance(value, str):
        match = _HHMM.match(value.strip())
        if not match:
            raise ValueError(f'{value!r} is not a 24-hour "HH:MM" time')
        return time(int(match.group(1)), int(match.group(2)))
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


Phone = Annotated[str, AfterValidator(_phone)]
Slug = Annotated[str, AfterValidator(_slug)]
Text = Annotated[str, AfterValidator(_non_blank)]
# Serialised back as "HH:MM" so a dumped profile loads again.
ClockTime = Annotated[
    time, BeforeValidator(_clock), PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)
]
Interval = tuple[ClockTime, ClockTime]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsistencyError(ValueError):
    """Several cross-field problems, each with the dotted path of the field at fault."""

    def __init__(self, issues: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in issues))
        self.issues = issues
