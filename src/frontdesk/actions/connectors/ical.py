"""A small iCalendar (RFC 5545) writer and reader for the events frontdesk books.

Sans-IO and dependency free: text in, frozen dataclasses out, and the clock is a
parameter. It covers what a booking needs, not the whole RFC: one VEVENT written per
calendar; on reading, every VEVENT's times (UTC, ``TZID=``, floating, ``DATE``, with
``DTEND`` or ``DURATION``) and our ``X-FRONTDESK-*`` properties. Everything else
(VTIMEZONE, VALARM, unknown properties) is skipped, because a CalDAV server returns
events written by other clients and reconciliation must still see them.

The ``X-FRONTDESK-KEY`` property carries the idempotency key back from the server, so a
lookup after an uncertain write can tell our booking from anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from frontdesk.actions.connectors.base import BookingRequest

__all__ = ["ICalError", "ParsedEvent", "escape_text", "event_ics", "parse_events", "utc_stamp"]

PRODID = "-//frontdesk//frontdesk booking//EN"
_FOLD_OCTETS = 75
# RFC 5545 3.3.11: TEXT may hold no control characters except HTAB (newlines are escaped).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_UNESCAPE = re.compile(r"\\([\\;,nN])")
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_DATE_TIME = re.compile(r"(\d{8}T\d{6})(Z?)", re.ASCII)
_DURATION = re.compile(
    r"([+-])?P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?)", re.ASCII
)


class ICalError(ValueError):
    """The text is not an iCalendar object we can read (the sender's fault, not ours)."""


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """One VEVENT as read back. ``start``/``end`` are aware UTC; ``key`` and the other
    frontdesk fields are None for events other clients wrote."""

    uid: str
    start: datetime
    end: datetime
    all_day: bool = False
    summary: str | None = None
    description: str | None = None
    recurrence_id: str | None = None
    key: str | None = None
    service_id: str | None = None
    customer_name: str | None = None
    customer_phone: str | None = None


def utc_stamp(moment: datetime) -> str:
    """An aware datetime in iCalendar's UTC form, e.g. ``20260301T100000Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: iCalendar times we write are UTC")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    """TEXT escaping (RFC 5545 3.3.11). Control characters are dropped: the RFC forbids
    them and servers reject the whole event over one stray byte from a transcript."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = _NEWLINE.sub("\\\\n", value)
    return _CONTROL.sub("", value)


def event_ics(request: BookingRequest, uid: str, now: datetime) -> str:
    """The calendar object for one booking, CRLF-terminated and folded at 75 octets."""
    props: list[tuple[str, str]] = [
        ("UID", escape_text(uid)),
        ("DTSTAMP", utc_stamp(now)),
        ("DTSTART", utc_stamp(request.start)),
        ("DTEND", utc_stamp(request.end)),
        ("SUMMARY", escape_text(f"{request.service_name} – {request.customer_name}")),
    ]
    description = "Booked by frontdesk"
    if request.business_name:
        description += f" for {request.business_name}"
    if request.customer_phone:
        description += f".\nPhone: {request.customer_phone}"
    props += [
        ("DESCRIPTION", escape_text(description)),
        ("STATUS", "CONFIRMED"),
        ("X-FRONTDESK-KEY", escape_text(request.key)),
        ("X-FRONTDESK-SERVICE", escape_text(request.service_id)),
        ("X-FRONTDESK-CUSTOMER", escape_text(request.customer_name)),
    ]
    if request.customer_phone is not None:
        props.append(("X-FRONTDESK-PHONE", escape_text(request.customer_phone)))
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    lines += ["BEGIN:VEVENT", *(f"{name}:{value}" for name, value in props), "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _fold(line: str) -> str:
    """Split a content line into chunks of at most 75 octets, never inside a UTF-8
    character; continuation lines start with one space (which counts toward the 75)."""
    chunks: list[str] = []
    current: list[str] = []
    size, limit = 0, _FOLD_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            chunks.append("".join(current))
            current, size, limit = [], 0, _FOLD_OCTETS - 1
        current.append(char)
        size += width
    chunks.append("".join(current))
    return "\r\n ".join(chunks)


# --- reading -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    name: str
    params: dict[str, str]
    value: str


def _unfold(text: str) -> list[str]:
    # Only CR/LF end lines: str.splitlines() would also split on U+2028 and friends,
    # which are legal inside a customer's name.
    lines: list[str] = []
    for raw in _NEWLINE.split(text):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def _content_line(raw: str) -> _Line:
    """``name *(";" param) ":" value``; parameter values may be quoted (and then hold
    ``:`` or ``;``, e.g. a TZID like ``"America/New_York"``)."""
    i, n = 0, len(raw)
    while i < n and raw[i] not in ";:":
        i += 1
    name = raw[:i].upper()
    if not name or i == n:
        raise ICalError(f"not a content line: {raw[:60]!r}")
    params: dict[str, str] = {}
    while raw[i] == ";":
        eq = raw.find("=", i)
        if eq < 0:
            raise ICalError(f"parameter without a value: {raw[:60]!r}")
        pname = raw[i + 1 : eq].upper()
        i = eq + 1
        values: list[str] = []
        while True:
            if i < n and raw[i] == '"':
                close = raw.find('"', i + 1)
                if close < 0:
                    raise ICalError(f"unterminated quoted parameter: {raw[:60]!r}")
                values.append(raw[i + 1 : close])
                i = close + 1
            else:
                start = i
                while i < n and raw[i] not in ';:,"':
                    i += 1
                values.append(raw[start:i])
            if i < n and raw[i] == ",":
                i += 1
                continue
            break
        if i >= n or raw[i] not in ";:":
            raise ICalError(f"malformed parameter in {raw[:60]!r}")
        params[pname] = ",".join(values)
    return _Line(name, params, raw[i + 1 :])


def _unescape(value: str) -> str:
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _zone(tzid: str) -> tzinfo:
    try:
        return ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    # Some clients prefix IANA names, e.g. "/mozilla.org/20070129_1/Europe/Berlin".
    parts = tzid.strip("/").split("/")
    for cut in range(1, len(parts)):
        try:
            return ZoneInfo("/".join(parts[cut:]))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    raise ICalError(f"unknown TZID {tzid!r}")


def _when(line: _Line, default_tz: tzinfo) -> tuple[datetime, bool]:
    """A DATE or DATE-TIME property as aware UTC, and whether it was a DATE."""
    value = line.value.strip()
    is_date = line.params.get("VALUE", "").upper() == "DATE" or len(value) == 8
    match = (_DATE if is_date else _DATE_TIME).fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        if is_date:
            day = date(int(match[1]), int(match[2]), int(match[3]))
            return datetime.combine(day, time(), default_tz).astimezone(UTC), True
        naive = datetime.strptime(match[1], "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise ICalError(f"bad {line.name} value {line.value!r}") from exc
    if match[2]:
        return naive.replace(tzinfo=UTC), False
    zone = _zone(line.params["TZID"]) if "TZID" in line.params else default_tz
    return naive.replace(tzinfo=zone).astimezone(UTC), False


def _duration(value: str) -> timedelta:
    match = _DURATION.fullmatch(value.strip())
    if match is None or not any(match.groups()[1:]):
        raise ICalError(f"bad DURATION {value!r}")
    sign, weeks, days, hours, minutes, seconds = match.groups()
    span = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    return -span if sign == "-" else span


def _event(lines: list[_Line], default_tz: tzinfo) -> ParsedEvent:
    props: dict[str, _Line] = {}
    for line in lines:
        props.setdefault(line.name, line)  # the first wins; repeats are other clients' noise
    if "UID" not in props or "DTSTART" not in props:
        raise ICalError("VEVENT without UID or DTSTART")
    start, all_day = _when(props["DTSTART"], default_tz)
    if "DTEND" in props:
        end, _ = _when(props["DTEND"], default_tz)
    elif "DURATION" in props:
        end = start + _duration(props["DURATION"].value)
    else:  # RFC 5545 3.6.1: a DATE lasts one day, a DATE-TIME no time at all
        end = start + timedelta(days=1) if all_day else start
    if end < start:
        raise ICalError(f"event {props['UID'].value!r} ends before it starts")

    def text(name: str) -> str | None:
        return _unescape(props[name].value) if name in props else None

    return ParsedEvent(
        uid=_unescape(props["UID"].value),
        start=start,
        end=end,
        all_day=all_day,
        summary=text("SUMMARY"),
        description=text("DESCRIPTION"),
        recurrence_id=props["RECURRENCE-ID"].value if "RECURRENCE-ID" in props else None,
        key=text("X-FRONTDESK-KEY"),
        service_id=text("X-FRONTDESK-SERVICE"),
        customer_name=text("X-FRONTDESK-CUSTOMER"),
        customer_phone=text("X-FRONTDESK-PHONE"),
    )


def parse_events(text: str, default_tz: tzinfo = UTC) -> list[ParsedEvent]:
    """Every VEVENT in ``text`` (one or more VCALENDAR objects, CRLF or bare LF).

    ``default_tz`` places floating times and all-day dates (the business's zone). Raises
    :class:`ICalError` for anything that is not a well-formed calendar.
    """
    stack: list[str] = []
    events: list[ParsedEvent] = []
    current: list[_Line] = []
    seen_calendar = False
    for raw in _unfold(text):
        line = _content_line(raw)
        if line.name == "BEGIN":
            component = line.value.strip().upper()
            if not stack and component != "VCALENDAR":
                raise ICalError(f"expected BEGIN:VCALENDAR, got BEGIN:{component}")
            stack.append(component)
            seen_calendar = True
            if stack == ["VCALENDAR", "VEVENT"]:
                current = []
        elif line.name == "END":
            component = line.value.strip().upper()
            if not stack or stack[-1] != component:
                raise ICalError(f"END:{component} does not close {stack[-1:] or 'anything'}")
            if stack == ["VCALENDAR", "VEVENT"]:
                events.append(_event(current, default_tz))
            stack.pop()
        elif not stack:
            raise ICalError(f"content outside VCALENDAR: {raw[:60]!r}")
        elif stack == ["VCALENDAR", "VEVENT"]:
            current.append(line)  # properties of nested VALARMs etc. never land here
    if stack:
        raise ICalError(f"unterminated {stack[-1]}")
    if not seen_calendar:
        raise ICalError("no VCALENDAR")
    return events
