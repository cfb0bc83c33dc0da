"""The Call: one per phone call, owning every task of that call.

Audio frames come in from a transport; the Call runs VAD and endpointing on them, drives
the turn table (``turns.py``), starts a speculative transcription at the caller's first
pause, and at the end of the turn runs one *reply*: transcript → brain → phrases → TTS →
20 ms frames out. The reply is a single task, the one scope that barge-in cancels: caller
speech during the reply clears the output at once (same frame as the VAD decision),
cancels the reply, and the turn keeps only the text that was actually played.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol, assert_never

from frontdesk.audio import FRAME_BYTES, FRAME_MS, Samples, pcm16_to_float
from frontdesk.brain.base import (
    Booked,
    Brain,
    BrainOutput,
    CallerTurn,
    Escalated,
    Hangup,
    MessageSaved,
    StopRecording,
    Text,
    Transfer,
)
from frontdesk.call.budget import Stamp, TurnClock
from frontdesk.call.endpoint import EndpointConfig, Endpointer, Mark
from frontdesk.call.events import (
    AgentTurnDone,
    BargeIn,
    BookingCommitted,
    CallEnded,
    CallerTranscript,
    ClearAudio,
    EndReason,
    EscalationDecided,
    EventBus,
    MessageTaken,
    Outcome,
    RecordingOptOut,
    StateChanged,
    TransferRequested,
    TurnMetrics,
)
from frontdesk.call.inbound import AudioIn, DtmfIn, HangupIn, Inbound
from frontdesk.call.playout import Playout
from frontdesk.call.turns import TurnEvent, TurnMachine, TurnState
from frontdesk.speech.base import (
    SpeechError,
    SpeechToText,
    TextToSpeech,
    Transcript,
    VoiceActivityDetector,
)

log = logging.getLogger(__name__)


class AudioOutput(Protocol):
    """Where agent audio goes. ``write`` paces; ``clear`` drops buffered audio and returns
    how many written frames the caller will now never hear."""

    async def write(self, frame: bytes) -> None: ...

    def clear(self) -> int: ...


@dataclass(frozen=True)
class CallConfig:
    budget_ms: float = 1000.0
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    no_input_timeout_ms: int = 6000
    preroll_ms: int = 200


@dataclass(frozen=True)
class CallParts:
    stt: SpeechToText
    tts: TextToSpeech
    vad: VoiceActivityDetector
    brain: Brain
    output: AudioOutput
    bus: EventBus
    clock: Callable[[], float] = time.perf_counter


@dataclass
class _Utterance:
    frames: list[bytes] = field(default_factory=list)
    voiced_upto: int = 0  # frames up to and including the last voiced one
    last_voiced_at: float = 0.0

    def audio(self) -> Samples:
        return pcm16_to_float(b"".join(self.frames))

    def prepend(self, earlier: _Utterance) -> None:
        self.frames[:0] = earlier.frames
        self.voiced_upto += len(earlier.frames)


@dataclass(frozen=True)
class _Speculative:
    """A transcription started at a pause; valid only for the same utterance, unchanged."""

    utterance: _Utterance
    voiced_upto: int
    task: asyncio.Task[Transcript]

    def matches(self, utterance: _Utterance) -> bool:
        return self.utterance is utterance and self.voiced_upto == utterance.voiced_upto


class Call:
    def __init__(self, config: CallConfig, parts: CallParts) -> None:
        self.config = config
        self.parts = parts
        self.machine = TurnMachine()
        self._endpointer = Endpointer(config.endpoint)
        self._preroll: list[bytes] = []
        self._utterance: _Utterance | None = None
        self._speculative: _Speculative | None = None
        # the utterance whose reply is still waiting for its transcript: if the caller
        # goes on talking now, it was a pause, not the end of the turn
        self._held: _Utterance | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._reply_source: asyncio.Task[Transcript] | None = None
        self._playout: Playout | None = None
        self._barged = False
        self._silent_frames = 0
        self._next_turn = 0
        self._recording_turn: int | None = None  # a reply that will record this turn index
        self._ended = asyncio.Event()
        self._end_reason = EndReason.CALLER_HANGUP
        self._outcome = Outcome.NONE
        self._outcome_before_transfer: Outcome | None = None  # a transfer not yet carried out
        self._tg: asyncio.TaskGroup | None = None

    @property
    def state(self) -> TurnState:
        return self.machine.state

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self, inbound: AsyncIterator[Inbound]) -> CallEnded:
        """Run the call until either side hangs up; returns the final event.

        ``CallEnded`` is published however the call ends; when a bug or a failed
        dependency ends it, the reason is ``ERROR`` and the exception propagates.
        """
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                self._move(TurnEvent.ANSWERED)
                self._start_reply(None)
                reader = tg.create_task(self._read(inbound))
                await self._ended.wait()
                reader.cancel()
                self._cancel_reply()
                self._drop_speculative()
        except BaseException:
            self.parts.bus.publish(CallEnded(EndReason.ERROR, self._outcome, self.parts.clock()))
            raise
        ended = CallEnded(self._end_reason, self._outcome, self.parts.clock())
        self.parts.bus.publish(ended)
        return ended

    async def _read(self, inbound: AsyncIterator[Inbound]) -> None:
        reason = EndReason.CALLER_HANGUP
        async for item in inbound:
            match item:
                case AudioIn(frame=frame):
                    self._on_audio(frame)
                case DtmfIn(digit=digit):
                    self._on_dtmf(digit)
                case HangupIn(dropped=dropped):
                    reason = EndReason.DROPPED if dropped else EndReason.CALLER_HANGUP
                    break
            if self._ended.is_set():
                return
        self._finish(reason)

    def _finish(self, reason: EndReason) -> None:
        if self._ended.is_set():
            return
        self._end_reason = reason
        if reason in (EndReason.CALLER_HANGUP, EndReason.DROPPED):
            self._move(TurnEvent.HANGUP)
            self._cancel_reply()  # nobody is listening: stop the reply now, not later
        else:
            self._move(TurnEvent.AGENT_HANGUP)
        self._ended.set()

    def _move(self, event: TurnEvent) -> None:
        """The only way the turn state changes; an illegal event raises (a bug here)."""
        before = self.machine.state
        after = self.machine.handle(event)
        if after is not before:
            self.parts.bus.publish(StateChanged(after, self.parts.clock()))

    # -- caller audio ------------------------------------------------------------------

    def _on_audio(self, frame: bytes) -> None:
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"audio frames must be {FRAME_BYTES} bytes, got {len(frame)}")
        now = self.parts.clock()
        probability = self.parts.vad.speech_probability(frame)
        voiced = probability >= self.config.endpoint.continue_threshold
        mark = self._endpointer.feed(probability)
        if self._endpointer.in_utterance or mark is not None:
            if self._utterance is None:
                self._utterance = _Utterance(frames=list(self._preroll))
                self._preroll.clear()
            self._utterance.frames.append(frame)
            if voiced:
                self._utterance.voiced_upto = len(self._utterance.frames)
                self._utterance.last_voiced_at = now
        else:
            self._preroll.append(frame)
            del self._preroll[: -max(1, self.config.preroll_ms // FRAME_MS)]
        match mark:
            case Mark.SPEECH_STARTED:
                self._on_speech_started()
            case Mark.PAUSE:
                self._start_speculative()
            case Mark.END_OF_TURN:
                self._on_end_of_turn(now)
            case Mark.NOISE:
                self._utterance = None
                self._drop_speculative()
            case Mark.RESUMED | None:
                pass
        self._count_silence()

    def _count_silence(self) -> None:
        if self.machine.state is not TurnState.LISTENING or self._endpointer.in_utterance:
            self._silent_frames = 0
            return
        self._silent_frames += 1
        if self._silent_frames * FRAME_MS >= self.config.no_input_timeout_ms:
            self._silent_frames = 0
            self._move(TurnEvent.NO_INPUT)
            self._start_reply(CallerTurn(text="", confidence=0.0, no_input=True))

    def _on_speech_started(self) -> None:
        held, self._held = self._held, None
        if self.machine.state in (TurnState.AGENT_SPEAKING, TurnState.THINKING):
            self._barge_in()
            if held is not None and self._utterance is not None:
                self._utterance.prepend(held)  # one turn with a pause in it, not two
        self._move(TurnEvent.SPEECH_STARTED)

    def _barge_in(self) -> None:
        """Stop playback in this very frame, then cancel the reply in flight."""
        unplayed = self.parts.output.clear()
        if self._playout is not None:
            self._playout.interrupt(unplayed)
        self._barged = True
        if self._outcome_before_transfer is not None:  # announced, not carried out
            self._outcome = self._outcome_before_transfer
            self._outcome_before_transfer = None
        self.parts.bus.publish(ClearAudio(self.parts.clock()))
        self._cancel_reply()

    def _start_speculative(self) -> None:
        utterance = self._utterance
        assert utterance is not None and self._tg is not None
        if self._speculative is not None and self._speculative.matches(utterance):
            return
        self._drop_speculative()
        task = self._tg.create_task(self._transcribe(utterance.audio()))
        self._speculative = _Speculative(utterance, utterance.voiced_upto, task)

    def _drop_speculative(self) -> None:
        if self._speculative is not None:
            self._speculative.task.cancel()  # a queued pass never reaches the model
            self._speculative = None

    def _on_end_of_turn(self, now: float) -> None:
        utterance, self._utterance = self._utterance, None
        assert utterance is not None and self._tg is not None
        self._move(TurnEvent.END_OF_TURN)
        clock = TurnClock(self.parts.clock)
        clock.mark(Stamp.LAST_SPEECH, utterance.last_voiced_at)
        clock.mark(Stamp.END_OF_TURN, now)
        speculative, self._speculative = self._speculative, None
        if speculative is not None and speculative.matches(utterance):
            transcription = speculative.task
        else:
            if speculative is not None:
                speculative.task.cancel()
            transcription = self._tg.create_task(self._transcribe(utterance.audio()))
        self._start_reply(transcription, clock)
        self._held = utterance

    async def _transcribe(self, audio: Samples) -> Transcript:
        """A failed recognition is a turn we did not understand, not a dead call."""
        try:
            return await self.parts.stt.transcribe(audio)
        except SpeechError as error:
            log.warning("stt failed (retryable=%s): %s", error.retryable, error)
            return Transcript(text="", confidence=0.0)

    def _on_dtmf(self, digit: str) -> None:
        if self.machine.state is TurnState.ENDED:
            return
        if self.machine.state in (TurnState.AGENT_SPEAKING, TurnState.THINKING):
            self._barge_in()
        self._move(TurnEvent.DTMF)
        self._utterance = self._held = None
        self._drop_speculative()
        self._endpointer.reset()
        self._start_reply(CallerTurn(text="", confidence=1.0, dtmf=digit))

    # -- the reply: the one scope barge-in cancels ---------------------------------------

    def _start_reply(
        self,
        source: CallerTurn | asyncio.Task[Transcript] | None,
        clock: TurnClock | None = None,
    ) -> None:
        assert self._tg is not None
        self._cancel_reply()
        self._barged = False
        self._held = None
        self._reply_source = source if isinstance(source, asyncio.Task) else None
        # a reply cancelled just now (a key press over the agent) records its turn when
        # its cancellation runs, after this one started: the new turn comes after it
        turn = self._next_turn if self._recording_turn is None else self._recording_turn + 1
        self._reply_task = self._tg.create_task(
            self._reply(turn, source, clock or TurnClock(self.parts.clock))
        )

    def _cancel_reply(self) -> None:
        if self._reply_task is not None and not self._reply_task.done():
            self._reply_task.cancel()
        if self._reply_source is not None and not self._reply_source.done():
            self._reply_source.cancel()
        self._reply_task = self._reply_source = None

    async def _reply(
        self,
        turn: int,
        source: CallerTurn | asyncio.Task[Transcript] | None,
        clock: TurnClock,
    ) -> None:
        bus = self.parts.bus
        playout = Playout(turn, self.parts.tts, self.parts.output, bus, clock, self._on_first_frame)
        self._playout = playout
        heard_caller = source is None or isinstance(source, CallerTurn)
        if heard_caller:
            self._recording_turn = turn
        try:
            if source is None:
                outputs = self.parts.brain.greet()
            else:
                caller = source if isinstance(source, CallerTurn) else _as_turn(await source)
                heard_caller, self._held = True, None
                self._recording_turn = turn
                clock.mark(Stamp.TRANSCRIPT)
                bus.publish(CallerTranscript(turn, caller.text, caller.confidence, clock.clock()))
                outputs = self.parts.brain.respond(caller)
            hangup = await playout.run(self._brain_text(outputs, playout))
        except asyncio.CancelledError:
            if heard_caller:  # else the caller's words go into the next turn
                self._turn_done(playout, clock, interrupted=True)
            raise
        self._turn_done(playout, clock, interrupted=False)
        if hangup:
            self._finish(EndReason.AGENT_HANGUP)
        elif self.machine.state is TurnState.AGENT_SPEAKING:
            self._move(TurnEvent.PLAYOUT_DONE)
        else:
            self._move(TurnEvent.NOTHING_TO_SAY)

    async def _brain_text(
        self, outputs: AsyncGenerator[BrainOutput, None], playout: Playout
    ) -> AsyncGenerator[str, None]:
        bus, now = self.parts.bus, self.parts.clock
        async with contextlib.aclosing(outputs):
            async for item in outputs:
                match item:
                    case Text(text=text):
                        yield text
                    case Booked():
                        self._outcome = Outcome.BOOKED
                        bus.publish(BookingCommitted(item.booking_id, item.service_id,
                                                     item.start.isoformat(), item.customer_name,
                                                     now()))
                    case MessageSaved():
                        if self._outcome is Outcome.NONE:
                            self._outcome = Outcome.MESSAGE
                        bus.publish(MessageTaken(item.message_id, item.caller_name, item.text,
                                                 now()))
                    case Transfer(number=number, summary=summary):
                        self._outcome_before_transfer = self._outcome
                        self._outcome = Outcome.TRANSFERRED
                        bus.publish(TransferRequested(number, now(), summary))
                        playout.hangup_after = True
                    case Hangup():
                        playout.hangup_after = True
                    case StopRecording():
                        bus.publish(RecordingOptOut(playout.turn, now()))
                    case Escalated(category=category, action=action, rule=rule):
                        bus.publish(EscalationDecided(category, action, rule, now()))
                    case _:
                        assert_never(item)

    def _on_first_frame(self) -> None:
        # a reply woken in the same loop step as the hang-up may get here before its
        # cancellation lands: the call is over, there is no state left to change
        if self.machine.state is not TurnState.ENDED:
            self._move(TurnEvent.FIRST_AUDIO)

    def _turn_done(self, playout: Playout, clock: TurnClock, *, interrupted: bool) -> None:
        """Publish the turn as the caller experienced it (the recorder stores it)."""
        played = playout.played_text()
        if interrupted and self._barged and playout.started:
            self.parts.bus.publish(BargeIn(playout.turn, played, self.parts.clock()))
        if playout.started or playout.planned_text():
            self.parts.brain.heard(played, interrupted)
        self.parts.bus.publish(
            TurnMetrics(playout.turn, clock.spans_ms(), clock.total_ms(), self.config.budget_ms,
                        self.parts.clock())
        )
        self.parts.bus.publish(
            AgentTurnDone(playout.turn, playout.planned_text(), played, interrupted,
                          self.parts.clock())
        )
        self._next_turn = max(self._next_turn, playout.turn + 1)
        if self._recording_turn == playout.turn:
            self._recording_turn = None
        if self._playout is playout:
            self._playout = None


def _as_turn(transcript: Transcript) -> CallerTurn:
    return CallerTurn(text=transcript.text, confidence=transcript.confidence)
