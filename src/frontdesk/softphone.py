"""The terminal softphone: place a scripted call against the engine, in process.

Caller lines given as text are synthesized to audio first, so the real audio path runs
(VAD, endpointing, STT); WAV files are read and resampled. The result is a report with
every turn as the engine saw it and the outcome as the store recorded it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frontdesk.audio import float_to_pcm16, read_wav, split_frames
from frontdesk.brain.base import Brain
from frontdesk.call.events import (
    AgentTurnDone,
    BookingCommitted,
    CallEnded,
    CallerTranscript,
    CallEvent,
    MessageTaken,
    TransferRequested,
    TurnMetrics,
)
from frontdesk.client.caller import CallerLine, CallReport, LoopbackLine, ScriptedCaller
from frontdesk.client.carrier import LineLog, TelnyxEmulator, TwilioEmulator
from frontdesk.client.harness import CarrierHarness
from frontdesk.client.websocket import WebSocketLine
from frontdesk.runtime import Runtime
from frontdesk.speech.base import TextToSpeech
from frontdesk.speech.stub import tone_utterance

DEFAULT_CALLER_NUMBER = "+15125550123"


@dataclass(frozen=True)
class Script:
    """Caller lines in order: ``("say", text)`` or ``("wav", path)``."""

    items: Sequence[tuple[str, str]]


Voice = Callable[[str], Awaitable[bytes]]


def tts_voice(tts: TextToSpeech) -> Voice:
    """A caller voice from a TTS (the real audio path: Silero and Whisper hear it)."""

    async def speak(text: str) -> bytes:
        return b"".join([chunk async for chunk in tts.stream(text)])

    return speak


def caller_voice(tts_kind: str) -> Voice:
    """The scripted caller's voice: a steady Piper voice (the same text gives the same
    audio every run), or a speech-like tone when the profile uses stub providers."""
    if tts_kind == "stub":
        return tone_voice
    from frontdesk.speech.piper import PiperTTS

    return tts_voice(PiperTTS(steady=True))


async def tone_voice(text: str) -> bytes:
    """A speech-like tone as long as the text would take to say, for stub providers."""
    return tone_utterance(len(text) * 60)


async def synthesize_lines(script: Script, voice: Voice | None) -> list[CallerLine]:
    lines: list[CallerLine] = []
    for kind, value in script.items:
        if kind == "wav":
            lines.append(CallerLine(split_frames(float_to_pcm16(read_wav(Path(value)))), value))
            continue
        if voice is None:
            raise ValueError("text caller lines need a voice to synthesize them")
        lines.append(CallerLine(split_frames(await voice(value)), value))
    return lines


async def place_call(
    runtime: Runtime,
    lines: Sequence[CallerLine],
    *,
    to_number: str,
    from_number: str = DEFAULT_CALLER_NUMBER,
    on_event: Callable[[CallEvent], None] | None = None,
    realtime: bool = True,
    brain: Brain | None = None,
) -> tuple[str, CallReport]:
    line = LoopbackLine()
    caller = ScriptedCaller(lines, realtime=realtime, line=line)
    opened = await runtime.open_call(to_number=to_number, from_number=from_number,
                                     output=line, brain=brain)
    caller.attach(opened.bus)
    if on_event is not None:
        opened.bus.subscribe_all(on_event)
    report = await caller.run(opened.run)
    return opened.call_id, report


async def place_call_over_websocket(
    url: str,
    lines: Sequence[CallerLine],
    *,
    to_number: str,
    from_number: str = DEFAULT_CALLER_NUMBER,
    on_event: Callable[[CallEvent], None] | None = None,
) -> tuple[str, CallReport]:
    """The same scripted call, dialled into a running ``frontdesk serve``."""
    line = WebSocketLine(url, to_number=to_number, from_number=from_number)
    caller = ScriptedCaller(lines, line=line)
    caller.attach(line)
    if on_event is not None:
        line.subscribe_all(on_event)
    report = await caller.run(line.run)
    return line.call_id or "", report


@dataclass(frozen=True)
class CarrierCall:
    call_id: str
    report: CallReport
    line: LineLog


async def place_call_via_carrier(
    runtime: Runtime,
    harness: CarrierHarness,
    carrier: str,
    lines: Sequence[CallerLine],
    *,
    to_number: str,
    from_number: str = DEFAULT_CALLER_NUMBER,
) -> CarrierCall:
    """The scripted call through an emulated Twilio or Telnyx (webhook, media stream, REST).

    A carrier reports no engine events, so the caller takes turns by ear; the engine's
    view of each turn is read back from the store."""
    emulator: TwilioEmulator | TelnyxEmulator = (
        harness.twilio(to_number, from_number) if carrier == "twilio"
        else harness.telnyx(to_number, from_number))
    caller = ScriptedCaller(lines, line=emulator, turns_from_audio=True)
    caller.attach(emulator)
    report = await caller.run(emulator.run)
    carrier_id = (emulator.call_sid if isinstance(emulator, TwilioEmulator)
                  else emulator.call_control_id)
    business = runtime.store.for_business(runtime.registry.by_number(to_number).business.id)
    record = await asyncio.to_thread(business.find_call_by_carrier_id, carrier, carrier_id)
    if record is not None:  # the server may still be closing the call's rows
        async with asyncio.timeout(30):  # a guard for a broken build, not a timing guess
            await harness.edge.wait_finished(record.id)
    return CarrierCall(record.id if record else "", report, emulator.log)


def stored_call_json(runtime: Runtime, call: CarrierCall, to_number: str) -> dict[str, Any]:
    """The ``--json`` document for a carrier call, from what the store recorded."""
    business = runtime.store.for_business(runtime.registry.by_number(to_number).business.id)
    record = business.get_call(call.call_id)
    turns = [{"turn": t.index, "caller": t.caller_text, "agent": t.agent_text_played,
              "interrupted": t.interrupted, "latency_ms": t.latency_ms}
             for t in business.list_turns(call.call_id)]
    return {
        "call_id": call.call_id,
        "status": record.status if record else None,
        "outcome": record.outcome if record else None,
        "turns": turns,
        "caller_measured_latency_ms": call.report.latencies_ms,
        "carrier": {"clears": call.line.clears, "marks_echoed": call.line.marks_echoed,
                    "transfer_to": call.line.transfer_to,
                    "hung_up_by_agent": call.line.hung_up_by_agent},
    }


def report_json(call_id: str, report: CallReport) -> dict[str, Any]:
    """The ``--json`` document: every turn and the outcome."""
    turns: dict[int, dict[str, Any]] = {}
    outcome: dict[str, Any] = {"kind": "none"}
    for event in report.events:
        match event:
            case CallerTranscript():
                turn = turns.setdefault(event.turn, {"turn": event.turn})
                turn["caller"] = event.text
                turn["confidence"] = round(event.confidence, 3)
            case AgentTurnDone():
                turn = turns.setdefault(event.turn, {"turn": event.turn})
                turn["agent"] = event.played_text
                turn["interrupted"] = event.interrupted
            case TurnMetrics():
                turn = turns.setdefault(event.turn, {"turn": event.turn})
                turn["spans_ms"] = event.spans_ms
                turn["latency_ms"] = event.latency_ms
            case BookingCommitted():
                outcome = {"kind": "booked", "booking_id": event.booking_id,
                           "service": event.service_id, "start": event.start_iso,
                           "name": event.customer_name}
            case MessageTaken():
                outcome = {"kind": "message", "message_id": event.message_id,
                           "name": event.caller_name, "text": event.text}
            case TransferRequested():
                outcome = {"kind": "transfer", "number": event.number}
            case CallEnded():
                outcome["ended_by"] = event.reason
            case _:
                pass
    return {
        "call_id": call_id,
        "turns": [turns[k] for k in sorted(turns)],
        "caller_measured_latency_ms": report.latencies_ms,
        "outcome": outcome,
    }


def printer(echo: Callable[[str], None]) -> Callable[[CallEvent], None]:
    """Prints the conversation as it happens, with each turn's latency breakdown."""

    def on_event(event: CallEvent) -> None:
        match event:
            case CallerTranscript():
                echo(f"caller  > {event.text or '(nothing heard)'}  [{event.confidence:.2f}]")
            case AgentTurnDone():
                cut = "  [interrupted]" if event.interrupted else ""
                echo(f"agent   > {event.played_text}{cut}")
            case TurnMetrics() if event.latency_ms is not None:
                spans = " ".join(f"{k}={v:.0f}" for k, v in event.spans_ms.items())
                flag = " OVER BUDGET" if event.over_budget else ""
                echo(f"          latency {event.latency_ms:.0f} ms ({spans}){flag}")
            case BookingCommitted():
                echo(f"          booked {event.service_id} at {event.start_iso} "
                     f"for {event.customer_name} (id {event.booking_id})")
            case MessageTaken():
                echo(f"          message saved (id {event.message_id})")
            case CallEnded():
                echo(f"-- call ended ({event.reason}, outcome {event.outcome})")
            case _:
                pass

    return on_event
