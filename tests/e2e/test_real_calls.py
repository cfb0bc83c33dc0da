"""Whole calls through the real audio path: Piper-voiced caller → Silero VAD → endpointing →
Whisper → receptionist → calendar/store → Piper → 20 ms frames back to the caller.

The line runs in real time (the caller's 20 ms tick is the clock); every assertion is on
events and stored rows, none on durations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from frontdesk.audio import SILENCE_FRAME, float_to_pcm16, split_frames
from frontdesk.call.events import (
    AgentPhraseStarted,
    AgentTurnDone,
    BargeIn,
    BookingCommitted,
    CallerTranscript,
    CallEvent,
    ClearAudio,
    TurnMetrics,
)
from frontdesk.client.caller import CallerLine, CallReport
from frontdesk.profile import Profile, ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.softphone import Script, place_call, synthesize_lines, tts_voice
from frontdesk.speech.base import Samples, Transcript
from frontdesk.speech.piper import PiperTTS
from frontdesk.speech.silero import SileroVAD
from frontdesk.speech.whisper import WhisperSTT
from frontdesk.store import Store, open_store

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=CHICAGO)  # a Wednesday


class CountingSTT:
    """The real recogniser, counting what it was asked to transcribe."""

    name = "whisper"

    def __init__(self, inner: WhisperSTT) -> None:
        self.inner = inner
        self.calls = 0

    async def transcribe(self, audio: Samples) -> Transcript:
        self.calls += 1
        return await self.inner.transcribe(audio)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = open_store(store_url)
    yield store
    store.close()


def profile(**engine: int) -> Profile:
    base = parse_profile(example_profile_text(), "<example>")
    # the most patient in-call budget: the models compete with the booking write for CPU
    booking = base.booking.model_copy(update={"in_call_budget_ms": 8000})
    return base.model_copy(update={"engine": base.engine.model_copy(update=engine),
                                   "booking": booking})


def runtime(store: Store, stt: CountingSTT, piper: PiperTTS, prof: Profile) -> Runtime:
    speech = Speech(stt=stt, tts=piper, new_vad=SileroVAD)
    return Runtime(ProfileRegistry([prof]), store, speech, now=lambda: NOW)


async def call(
    rt: Runtime, lines: list[CallerLine], on_event: Callable[[CallEvent], None] | None = None
) -> tuple[str, CallReport]:
    number = next(iter(rt.registry)).business.phone_numbers[0]
    return await place_call(rt, lines, to_number=number, on_event=on_event)


async def test_a_caller_books_an_oil_change(
    store: Store, whisper: WhisperSTT, piper: PiperTTS, caller_piper: PiperTTS
) -> None:
    rt = runtime(store, CountingSTT(whisper), piper, profile())
    lines = await synthesize_lines(Script([("say", s) for s in (
        "Hi, I'd like to book an oil change.",
        "Thursday at 3 PM.",
        "John Smith.",
        "Yes, please.",
        "No, that's all. Goodbye.",
    )]), tts_voice(caller_piper))
    business = store.for_business("main-street-auto")
    rows_when_spoken: list[int] = []

    def on_event(event: CallEvent) -> None:
        # the moment a confirmation starts to play, the row must already be in the store
        if isinstance(event, AgentPhraseStarted) and "booked for" in event.text:
            rows_when_spoken.append(len(business.list_bookings(NOW, NOW + timedelta(days=60))))

    call_id, report = await call(rt, lines, on_event)
    assert rows_when_spoken == [1]

    bookings = business.list_bookings(NOW, NOW + timedelta(days=60))
    assert len(bookings) == 1
    booking = bookings[0]
    assert booking.service_id == "oil-change"
    assert booking.start_at.astimezone(CHICAGO) == datetime(2026, 11, 26, 15, 0, tzinfo=CHICAGO)
    assert booking.customer_name == "John Smith"
    assert booking.call_id == call_id

    # the confirmation was spoken only after the calendar write committed
    events = report.events
    committed = next(i for i, e in enumerate(events) if isinstance(e, BookingCommitted))
    confirmation = next(i for i, e in enumerate(events)
                        if isinstance(e, AgentPhraseStarted) and "booked for" in e.text)
    assert committed < confirmation
    assert "3 PM" in events[confirmation].text  # type: ignore[union-attr]
    assert not any(isinstance(e, AgentPhraseStarted) and "booked" in e.text.lower()
                   for e in events[:committed])

    transcripts = [e.text.lower() for e in events if isinstance(e, CallerTranscript)]
    assert len(transcripts) >= 4 and "oil change" in transcripts[0]
    turns = business.list_turns(call_id)
    assert [t.index for t in turns] == list(range(len(turns)))
    caller_turns = [t for t in turns if t.caller_text]
    assert len(caller_turns) >= 4
    assert all(set(t.spans) >= {"endpoint", "stt", "brain", "tts", "transport"}
               and t.latency_ms is not None for t in caller_turns)
    record = business.get_call(call_id)
    assert record is not None and record.outcome == "booked" and record.ended_at is not None
    assert report.ended is not None and report.ended.reason == "agent_hangup"


async def test_barge_in_stops_the_agent_and_keeps_only_what_was_played(
    store: Store, whisper: WhisperSTT, piper: PiperTTS, caller_piper: PiperTTS
) -> None:
    rt = runtime(store, CountingSTT(whisper), piper, profile())
    question, interruption = await synthesize_lines(Script([
        ("say", "What are your hours?"),
        ("say", "Sorry, where are you located?"),
    ]), tts_voice(caller_piper))
    interruption = CallerLine(interruption.frames, interruption.text, barge_in_after_frames=40)
    lines = [question, interruption]
    call_id, report = await call(rt, lines)

    barge = [e for e in report.events if isinstance(e, BargeIn)]
    assert len(barge) == 1
    assert sum(isinstance(e, ClearAudio) for e in report.events) == 1
    # playback stopped at the VAD decision: at most the one frame already on the line
    assert len(report.frames_after_clear) == 1 and report.frames_after_clear[0] <= 1
    cut = next(e for e in report.events if isinstance(e, AgentTurnDone) and e.interrupted)
    assert 0 < len(cut.played_text.split()) < len(cut.planned_text.split())
    assert cut.planned_text.startswith(cut.played_text.rstrip("."))
    stored = [t for t in store.for_business("main-street-auto").list_turns(call_id)
              if t.interrupted]
    assert len(stored) == 1
    assert stored[0].agent_text_played == cut.played_text
    assert stored[0].agent_text == cut.planned_text
    after = [e.text.lower() for e in report.events if isinstance(e, CallerTranscript)]
    assert "located" in after[-1]
    answer = [e for e in report.events if isinstance(e, AgentTurnDone)][-1]
    assert "Main Street" in answer.played_text


async def test_silence_and_noise_never_reach_the_recogniser(
    store: Store, whisper: WhisperSTT, piper: PiperTTS, caller_piper: PiperTTS
) -> None:
    stt = CountingSTT(whisper)
    rt = runtime(store, stt, piper, profile(no_input_timeout_ms=1500))
    rng = np.random.default_rng(7)
    noise = rng.normal(0, 10 ** (-30 / 20), 16000 * 2).astype(np.float32)
    noise_line = CallerLine(split_frames(float_to_pcm16(noise)), "(noise)")
    silence_line = CallerLine([SILENCE_FRAME] * 25, "(silence)")
    (bye,) = await synthesize_lines(Script([("say", "Goodbye.")]), tts_voice(caller_piper))
    call_id, report = await call(rt, [noise_line, silence_line, bye])

    prompts = [e.played_text for e in report.events if isinstance(e, AgentTurnDone)]
    assert any("Are you still there?" in p for p in prompts)
    heard = [e for e in report.events if isinstance(e, CallerTranscript) and e.text]
    assert len(heard) == 1 and "bye" in heard[0].text.lower()
    assert stt.calls == 1
    assert report.ended is not None and report.ended.reason == "agent_hangup"
    metrics = [e for e in report.events if isinstance(e, TurnMetrics)]
    assert metrics and all(m.budget_ms == 1000 for m in metrics)
