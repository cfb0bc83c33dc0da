"""Whole calls with recording on: the runtime wires the tap, the receptionist speaks the
disclosure, and the stored file and consent log match what the caller heard.

Stub speech (a tone per phrase), the energy VAD and the in-memory line, so a call takes
no model and no wall-clock pacing; the store and the WAV file are real.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from frontdesk.audio import FRAME_SAMPLES, split_frames
from frontdesk.call.events import (
    AgentPhraseStarted,
    AgentTurnDone,
    BargeIn,
    EndReason,
    RecordingOptOut,
    RecordingStarted,
    RecordingStopped,
)
from frontdesk.client.caller import CallerLine, CallReport, LoopbackLine, ScriptedCaller
from frontdesk.profile import Profile, ProfileRegistry, example_profile_text
from frontdesk.runtime import Runtime, Speech
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS, tone_utterance
from frontdesk.store import CallRecord, Store, open_store

NOW = datetime.fromisoformat("2026-11-25T10:00:00-06:00")
DISCLOSURE = "This call is recorded for quality and training."
BUSINESS = "main-street-auto"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


def profile(directory: Path, enabled: bool = True) -> Profile:
    data: dict[str, Any] = yaml.safe_load(example_profile_text())
    data["recording"] = {"enabled": enabled, "directory": str(directory)}
    return Profile.model_validate(data)


def line(ms: int, text: str, **kw: Any) -> CallerLine:
    return CallerLine(split_frames(tone_utterance(ms)), text, **kw)


async def place(store: Store, prof: Profile, script: list[str],
                lines: list[CallerLine]) -> tuple[str, CallReport, StubTTS]:
    tts = StubTTS(0, ms_per_char=8)
    speech = Speech(stt=StubSTT(0, script), tts=tts, new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([prof]), store, speech, now=lambda: NOW)
    caller = ScriptedCaller(lines, realtime=False, tail_ms=3000)
    assert isinstance(caller.line, LoopbackLine)
    opened = await runtime.open_call(to_number="+15125550100", from_number="+15125551234",
                                     output=caller.line)
    caller.attach(opened.bus)
    report = await caller.run(opened.run)
    return opened.call_id, report, tts


def voiced_frames(path: Path) -> tuple[int, int]:
    """How many 20 ms frames carry sound on the (caller, agent) channels."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 16000)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    frames = samples[: len(samples) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(
        -1, FRAME_SAMPLES, 2)
    loud = np.abs(frames.astype(np.int32)).max(axis=1) > 100
    return int(loud[:, 0].sum()), int(loud[:, 1].sum())


def stored(store: Store, call_id: str) -> tuple[CallRecord, list[str]]:
    business = store.for_business(BUSINESS)
    call = business.get_call(call_id)
    assert call is not None
    # the recording's own steps (the dialogue's per-turn entries are not its business)
    return call, [e.kind for e in business.list_call_events(call_id)
                  if e.kind != "dialogue.turn"]


async def test_a_recorded_call_keeps_everything_after_the_disclosure(
    store: Store, tmp_path: Path
) -> None:
    call_id, report, tts = await place(
        store, profile(tmp_path / "rec"), ["What are your hours?", "Goodbye."],
        [line(600, "What are your hours?"), line(400, "Goodbye.")])

    assert report.ended is not None and report.ended.reason == EndReason.AGENT_HANGUP
    assert tts.said[0] == DISCLOSURE  # the first thing the caller hears
    greeting = next(e for e in report.events if isinstance(e, AgentTurnDone))
    assert greeting.played_text.startswith(DISCLOSURE)
    started = report.events.index(next(e for e in report.events
                                       if isinstance(e, RecordingStarted)))
    assert started > report.events.index(greeting)  # never before the disclosure was heard
    call, kinds = stored(store, call_id)
    assert kinds == ["recording.disclosed", "recording.started", "recording.saved"]
    assert call.recording == "saved" and call.end_reason == "agent_hangup"
    path = Path(str(call.recording_path))
    assert path == tmp_path / "rec" / BUSINESS / f"{call_id}.wav"
    caller_frames, agent_frames = voiced_frames(path)
    assert caller_frames == (600 + 400) // 20  # both of the caller's lines, whole
    # the agent's replies after the greeting, every frame written, and none of the greeting
    later = sum(math.ceil(round(len(e.text) * 8 * 16) / FRAME_SAMPLES) for e in report.events
                if isinstance(e, AgentPhraseStarted) and e.turn > 0)
    assert later - 1 <= agent_frames <= later
    assert any(isinstance(e, RecordingStopped) and not e.by_caller for e in report.events)


async def test_a_disclosure_cut_by_barge_in_is_repeated_before_recording(
    store: Store, tmp_path: Path
) -> None:
    call_id, report, tts = await place(
        store, profile(tmp_path / "rec"), ["What are your hours?", "Goodbye."],
        [line(600, "What are your hours?", barge_in_after_frames=5), line(400, "Goodbye.")])

    assert any(isinstance(e, BargeIn) and e.turn == 0 for e in report.events)
    assert tts.said.count(DISCLOSURE) == 2  # greeting, then again before the answer
    done = [e for e in report.events if isinstance(e, AgentTurnDone)]
    assert done[1].played_text.startswith(DISCLOSURE + " We're open")
    call, kinds = stored(store, call_id)
    assert kinds == ["recording.disclosure_interrupted", "recording.disclosed",
                     "recording.started", "recording.saved"]
    caller_frames, _ = voiced_frames(Path(str(call.recording_path)))
    assert caller_frames == 400 // 20  # the first line came before consent: not kept


async def test_a_caller_who_says_dont_record_is_not_recorded(
    store: Store, tmp_path: Path
) -> None:
    call_id, report, _ = await place(
        store, profile(tmp_path / "rec"),
        ["What are your hours?", "Please don't record this.", "Goodbye."],
        [line(600, "What are your hours?"), line(500, "Please don't record this."),
         line(400, "Goodbye.")])

    assert any(isinstance(e, RecordingOptOut) for e in report.events)
    assert any(isinstance(e, RecordingStopped) and e.by_caller for e in report.events)
    done = [e for e in report.events if isinstance(e, AgentTurnDone)]
    assert done[2].played_text == ("Of course. This call won't be recorded. "
                                   "How can I help you today?")
    call, kinds = stored(store, call_id)
    assert (call.recording, call.recording_path) == ("stopped_by_caller", None)
    assert kinds == ["recording.disclosed", "recording.started", "recording.stopped_by_caller"]
    assert list((tmp_path / "rec" / BUSINESS).iterdir()) == []


async def test_recording_off_means_no_disclosure_and_no_file(
    store: Store, tmp_path: Path
) -> None:
    call_id, report, tts = await place(
        store, profile(tmp_path / "rec", enabled=False), ["Goodbye."], [line(400, "Goodbye.")])

    assert report.ended is not None and report.ended.reason == EndReason.AGENT_HANGUP
    assert not any("recorded" in s for s in tts.said)
    call, kinds = stored(store, call_id)
    assert (call.recording, kinds) == ("off", [])
    assert not (tmp_path / "rec").exists()
