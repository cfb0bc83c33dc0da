"""The iCalendar writer and reader: escaping, folding, the time forms other clients use,
and a typed error for anything malformed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.actions.connectors.base import BookingRequest
from frontdesk.actions.connectors.ical import (
    ICalError,
    escape_text,
    event_ics,
    parse_events,
    utc_stamp,
)

NOW = datetime(2026, 2, 1, 12, 0, 5, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def request(name: str = "Ana Díaz", phone: str | None = "+15551234567") -> BookingRequest:
    return BookingRequest(
        key="0123456789abcdef0123456789abcdef",
        service_id="oil-change",
        service_name="Oil change",
        start=datetime(2026, 3, 2, 9, 30, tzinfo=BERLIN),
        end=datetime(2026, 3, 2, 10, 15, tzinfo=BERLIN),
        customer_name=name,
        customer_phone=phone,
        business_name="Joe's Garage",
    )


def calendar(*event_lines: str, extra: str = "") -> str:
    body = "\r\n".join(event_lines)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        f"{extra}BEGIN:VEVENT\r\n{body}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


# --- writing -------------------------------------------------------------------------


def test_event_has_utc_times_our_properties_and_crlf_lines() -> None:
    text = event_ics(request(), "k@frontdesk", NOW)
    assert text.endswith("\r\n")
    lines = text.split("\r\n")[:-1]
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    assert [line for line in lines if line.startswith("BEGIN:")] == [
        "BEGIN:VCALENDAR",
        "BEGIN:VEVENT",
    ]
    assert "UID:k@frontdesk" in lines
    assert "DTSTAMP:20260201T120005Z" in lines
    assert "DTSTART:20260302T083000Z" in lines  # 09:30 CET
    assert "DTEND:20260302T091500Z" in lines
    assert "SUMMARY:Oil change – Ana Díaz" in lines
    assert "X-FRONTDESK-KEY:0123456789abcdef0123456789abcdef" in lines
    assert "X-FRONTDESK-SERVICE:oil-change" in lines
    assert "X-FRONTDESK-CUSTOMER:Ana Díaz" in lines
    assert "X-FRONTDESK-PHONE:+15551234567" in lines
    assert "\n" not in text.replace("\r\n", "")


def test_description_carries_the_phone_and_no_phone_means_no_phone_property() -> None:
    (event,) = parse_events(event_ics(request(), "k@frontdesk", NOW))
    assert event.description is not None and "+15551234567" in event.description
    (bare,) = parse_events(event_ics(request(phone=None), "k@frontdesk", NOW))
    assert bare.customer_phone is None
    assert "X-FRONTDESK-PHONE" not in event_ics(request(phone=None), "k@frontdesk", NOW)


def test_text_escaping() -> None:
    assert escape_text("a\\b;c,d\ne\r\nf") == "a\\\\b\\;c\\,d\\ne\\nf"
    assert escape_text("bell\x07 and\ttab") == "bell and\ttab"  # control chars dropped


def test_long_lines_fold_at_75_octets_without_splitting_characters() -> None:
    name = "Zoë 山田 " * 30
    text = event_ics(request(name=name), "k@frontdesk", NOW)
    raw_lines = text.encode("utf-8").split(b"\r\n")
    assert max(len(line) for line in raw_lines) <= 75
    assert any(line.startswith(b" ") for line in raw_lines)
    for line in raw_lines:
        line.decode("utf-8")  # a folded multibyte character would not decode
    (event,) = parse_events(text)
    assert event.customer_name == name


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        utc_stamp(datetime(2026, 3, 2, 9, 30))


_names = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc")),
        st.sampled_from(",;:\\\n\"' \t\u2028\x85é山"),
    ),
    max_size=120,
)


@given(name=_names, phone=st.one_of(st.none(), _names), service=_names)
def test_round_trip_keeps_any_text(name: str, phone: str | None, service: str) -> None:
    req = BookingRequest(
        key="k1",
        service_id=service,
        service_name=service,
        start=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        end=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        customer_name=name,
        customer_phone=phone,
    )
    text = event_ics(req, "k1@frontdesk", NOW)
    assert all(len(line) <= 75 for line in text.encode("utf-8").split(b"\r\n"))
    (event,) = parse_events(text)
    assert (event.customer_name, event.customer_phone) == (name, phone)
    assert (event.service_id, event.summary) == (service, f"{service} – {name}")
    assert (event.key, event.uid) == ("k1", "k1@frontdesk")
    assert (event.start, event.end) == (req.start, req.end)


def test_cr_lf_in_a_name_reads_back_as_one_newline() -> None:
    (event,) = parse_events(event_ics(request(name="a\r\nb\rc"), "k@frontdesk", NOW))
    assert event.customer_name == "a\nb\nc"


# --- reading other clients' events ---------------------------------------------------


def test_tzid_floating_and_date_forms() -> None:
    text = calendar(
        "UID:tz",
        'DTSTART;TZID="Europe/Berlin":20260329T013000',  # before the spring-forward gap
        "DTEND;TZID=Europe/Berlin:20260329T033000",  # after it: CEST
    )
    (event,) = parse_events(text)
    assert event.start == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert event.end == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)

    floating = calendar("UID:f", "DTSTART:20260301T090000", "DTEND:20260301T100000")
    (utc_default,) = parse_events(floating)
    (in_berlin,) = parse_events(floating, default_tz=BERLIN)
    assert utc_default.start == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert in_berlin.start == datetime(2026, 3, 1, 8, tzinfo=UTC)

    (all_day,) = parse_events(calendar("UID:d", "DTSTART;VALUE=DATE:20260301"), BERLIN)
    assert all_day.all_day
    assert all_day.start == datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert all_day.end - all_day.start == timedelta(days=1)


def test_duration_and_missing_end() -> None:
    (event,) = parse_events(calendar("UID:d", "DTSTART:20260301T090000Z", "DURATION:PT1H30M"))
    assert event.end == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    (week,) = parse_events(calendar("UID:w", "DTSTART:20260301T090000Z", "DURATION:P1W"))
    assert week.end - week.start == timedelta(weeks=1)
    (instant,) = parse_events(calendar("UID:i", "DTSTART:20260301T090000Z"))
    assert instant.end == instant.start


def test_mozilla_style_tzid_prefix_is_understood() -> None:
    text = calendar(
        "UID:m",
        "DTSTART;TZID=/mozilla.org/20070129_1/Europe/Berlin:20260301T090000",
        "DTEND;TZID=/mozilla.org/20070129_1/Europe/Berlin:20260301T100000",
    )
    (event,) = parse_events(text)
    assert event.start == datetime(2026, 3, 1, 8, tzinfo=UTC)


def test_vtimezone_valarm_and_unknown_properties_are_skipped() -> None:
    vtimezone = (
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\n"
        "DTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    text = calendar(
        "UID:a",
        "X-UNKNOWN;FOO=bar:whatever",
        "ATTENDEE;CN=\"Doe; John: Jr\";ROLE=REQ-PARTICIPANT:mailto:j@example.com",
        "DTSTART;TZID=Europe/Berlin:20260301T090000",
        "DTEND;TZID=Europe/Berlin:20260301T100000",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:alarm text",
        "TRIGGER:-PT15M",
        "END:VALARM",
        "DESCRIPTION:the event",
        extra=vtimezone,
    )
    (event,) = parse_events(text)
    assert event.description == "the event"
    assert event.start == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert event.key is None and event.customer_name is None


def test_bare_lf_tab_folding_and_several_events() -> None:
    text = (
        "BEGIN:VCALENDAR\nVERSION:2.0\n"
        "BEGIN:VEVENT\nUID:one\nDTSTART:20260301T090000Z\nSUMMARY:long\n\tsummary\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:one\nRECURRENCE-ID:20260308T090000Z\nDTSTART:20260308T100000Z\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    first, second = parse_events(text)
    assert first.summary == "longsummary"
    assert second.recurrence_id == "20260308T090000Z"
    assert second.start == datetime(2026, 3, 8, 10, tzinfo=UTC)


def test_a_calendar_without_events_is_empty() -> None:
    assert parse_events("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n") == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "<html>not a calendar</html>",
        "BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n",
        "BEGIN:VCALENDAR\r\nEND:VEVENT\r\n",
        "VERSION:2.0\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        calendar("UID:x", "no colon here"),
        calendar("UID:x", 'DTSTART;TZID="Europe/Berlin:20260301T090000'),
        calendar("UID:x"),
        calendar("DTSTART:20260301T090000Z"),
        calendar("UID:x", "DTSTART:2026-03-01T09:00:00Z"),
        calendar("UID:x", "DTSTART:20261301T090000Z"),
        calendar("UID:x", "DTSTART:２０２６０３０１T090000Z"),
        calendar("UID:x", "DTSTART;TZID=Mars/Olympus:20260301T090000"),
        calendar("UID:x", "DTSTART:20260301T090000Z", "DURATION:P"),
        calendar("UID:x", "DTSTART:20260301T090000Z", "DTEND:20260301T080000Z"),
    ],
)
def test_malformed_calendars_raise_ical_error(text: str) -> None:
    with pytest.raises(ICalError):
        parse_events(text)
