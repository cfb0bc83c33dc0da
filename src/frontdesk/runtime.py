"""Assembly: profiles + store + speech providers → a ready Call for each incoming call.

Models are loaded once per process (STT, TTS, the VAD's ONNX session) and shared by all
calls; per-call state (VAD state, dialogue, event bus) is made fresh in :meth:`open_call`.
A call's turns are written to the store as each turn ends, and the call row is closed
with its outcome when the call ends. When the profile records calls, the recording tap
wraps the call's audio seams (see ``call/recording.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from frontdesk.actions.booking import BookingDesk
from frontdesk.actions.factory import build_desk
from frontdesk.audio import SILENCE_FRAME
from frontdesk.brain.base import Brain
from frontdesk.brain.llm.brain import TurnStats
from frontdesk.brain.llm.factory import Providers, llm_brain
from frontdesk.brain.receptionist import Receptionist
from frontdesk.call.continuity import identifiable, join, leave
from frontdesk.call.endpoint import EndpointConfig
from frontdesk.call.engine import AudioOutput, Call, CallConfig, CallParts
from frontdesk.call.escalate import AfterTransfer, Escalating
from frontdesk.call.events import CallEnded, EventBus
from frontdesk.call.inbound import Inbound
from frontdesk.call.recorder import TurnRecorder
from frontdesk.call.recording import CallRecording
from frontdesk.escalation import scores
from frontdesk.observe.metrics import EngineMetrics
from frontdesk.profile import EngineSettings, Profile, ProfileRegistry
from frontdesk.speech.base import SpeechToText, TextToSpeech, VoiceActivityDetector
from frontdesk.speech.factory import build_stt, build_tts, vad_factory
from frontdesk.store import BusinessStore, SessionRecord, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Speech:
    stt: SpeechToText
    tts: TextToSpeech
    new_vad: Callable[[], VoiceActivityDetector]

    @classmethod
    def from_settings(cls, settings: EngineSettings, *, script: list[str] | None = None) -> Speech:
        p, stub = settings.providers, settings.stub
        return cls(
            stt=build_stt(p.stt, final_ms=stub.stt_final_ms, script=script or []),
            tts=build_tts(p.tts, first_audio_ms=stub.tts_first_audio_ms,
                          ms_per_char=stub.tts_ms_per_char),
            new_vad=vad_factory(p.vad),
        )


    def warmup(self) -> None:
        """Run each model once before the first call: a cold Whisper or Piper pass is
        slower, and the first caller should not pay for it."""
        for provider in (self.stt, self.tts):
            warm = getattr(provider, "warmup", None)
            if callable(warm):
                warm()
        self.new_vad().speech_probability(SILENCE_FRAME)


@dataclass
class OpenCall:
    call: Call
    bus: EventBus
    call_id: str
    profile: Profile
    brain: Brain
    recorder: TurnRecorder
    recording: CallRecording
    ended: asyncio.Queue[tuple[str, str]] | None = None  # told when the call is stored
    session: SessionRecord | None = None  # the caller's session (our own brain only)
    desk: BookingDesk | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def run(self, inbound: AsyncIterator[Inbound]) -> CallEnded:
        """Run the call with its writers; every turn, and the recording's final state, is
        stored before this returns. Then the back office hears that the call ended (the
        outbox may owe the caller a text; reconciliation checks what they were told)."""
        try:
            ended = await self._run(inbound)
            settle = getattr(self.brain, "settle", None)  # writes the call left running
            if settle is not None:
                await settle()
            if self.session is not None and self.desk is not None and isinstance(
                    self.brain, Escalating):
                try:
                    await leave(self.desk.store, self.profile, self.desk, self.session,
                                self.brain, call_id=self.call_id, now=self.now())
                except Exception:  # the call is over either way; its session stays open
                    log.exception("call %s: session %s not closed", self.call_id,
                                  self.session.id)
            return ended
        finally:
            if self.ended is not None:
                self.ended.put_nowait((self.profile.business.id, self.call_id))

    async def _run(self, inbound: AsyncIterator[Inbound]) -> CallEnded:
        writers = (self.recorder, self.recording)
        async with asyncio.TaskGroup() as tg:
            for writer in writers:
                tg.create_task(writer.run())
            try:
                return await self.call.run(self.recording.tap_inbound(inbound))
            except Exception:
                for writer in writers:
                    writer.close()
                for writer in writers:
                    await writer.drained.wait()  # the failed call's rows are closed
                raise
            finally:
                for writer in writers:
                    writer.close()


@dataclass
class Runtime:
    registry: ProfileRegistry
    store: Store
    speech: Speech
    metrics: EngineMetrics = field(default_factory=EngineMetrics)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # one booking desk per business, shared by its calls (and its circuit breaker)
    desks: dict[str, BookingDesk] = field(default_factory=dict)
    # (business id, call id) of each call that ended, for the back office
    ended: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    # the chat-model clients of each business whose profile says brain: llm
    llms: dict[str, Providers] = field(default_factory=dict)

    def llm(self, profile: Profile) -> Providers:
        """The business's model clients, built on first use; raises ``LlmConfigError``."""
        providers = self.llms.get(profile.business.id)
        if providers is None:
            assert profile.llm is not None  # the profile validates brain: llm has llm:
            providers = self.llms[profile.business.id] = Providers(profile.llm)
        return providers

    def desk(self, profile: Profile) -> BookingDesk:
        """The business's desk, built on first use; raises ``BackendConfigError``."""
        desk = self.desks.get(profile.business.id)
        if desk is None:
            business = self.store.for_business(profile.business.id)
            desk = self.desks[profile.business.id] = build_desk(profile, business,
                                                                 clock=self.now)
        return desk

    async def aclose(self) -> None:
        desks, self.desks = list(self.desks.values()), {}
        for desk in desks:
            await desk.aclose()
        llms, self.llms = list(self.llms.values()), {}
        for providers in llms:
            await providers.aclose()

    async def open_call(
        self,
        *,
        to_number: str,
        from_number: str,
        output: AudioOutput,
        brain: Brain | None = None,
        call_id: str | None = None,
        after: AfterTransfer | None = None,
    ) -> OpenCall:
        """Create the call row (or take the one a carrier webhook already created, by
        ``call_id``) and a Call wired to the dialled business. ``after``: this leg brings
        the caller back from a transfer nobody took, to leave a message.

        Raises ``KeyError`` (from the registry) when no business owns ``to_number``, or
        when ``call_id`` names no call of that business."""
        profile = self.registry.by_number(to_number)
        business = self.store.for_business(profile.business.id)
        if call_id is None:
            record = await asyncio.to_thread(business.create_call, from_number, to_number,
                                             started_at=self.now())
        else:
            found = await asyncio.to_thread(business.get_call, call_id)
            if found is None:
                raise KeyError(f"no call {call_id} for business {profile.business.id}")
            record = found
        bus = EventBus()
        session = None
        if brain is None:
            joined = None
            try:
                joined = await join(
                    business, call_id=record.id, caller=from_number, now=self.now(),
                    window=timedelta(hours=profile.sessions.resume_window_hours),
                    outbound=await _outbound(business, record.id))
            except Exception:  # answer the call anyway, without a session to resume
                log.exception("call %s: no session", record.id)
            session = joined.session if joined else None
            brain = Receptionist(profile, business, call_id=record.id,
                                 caller_number=from_number, now=self.now,
                                 desk=self.desk(profile), session=session,
                                 resumed=bool(joined and joined.resumed),
                                 called_back=bool(joined and joined.called_back))
            if profile.brain == "llm":  # the model talks; the receptionist stands behind it
                brain = llm_brain(
                    profile, self.llm(profile), business=business, desk=self.desk(profile),
                    fallback=brain, call_id=record.id,
                    session_id=session.id if session else record.id,
                    caller_number=from_number, now=self.now,
                    on_turn=self._llm_turn(business, record.id, profile.business.id))
        # the escalation policy hears every turn first, whichever brain answers; its
        # classifier trains once per process, off the event loop (calls would stall)
        await asyncio.to_thread(scores, "")
        brain = Escalating(brain, profile, business, self.desk(profile), call_id=record.id,
                           caller_number=from_number, now=self.now,
                           session_id=session.id if session else None,
                           identifiable=identifiable(from_number), after=after)
        recording = CallRecording(profile.recording, business, record.id, bus, now=self.now)
        parts = CallParts(stt=self.speech.stt, tts=self.speech.tts, vad=self.speech.new_vad(),
                          brain=brain, output=recording.tap_output(output), bus=bus)
        call = Call(call_config(profile.engine), parts)
        recorder = TurnRecorder(business, record.id)
        recorder.watch(bus)
        self.metrics.watch(bus, profile.business.id)
        return OpenCall(call, bus, record.id, profile, brain, recorder, recording,
                        self.ended, session, self.desk(profile), self.now)


    def _llm_turn(self, business: BusinessStore, call_id: str,
                  business_id: str) -> Callable[[TurnStats], Awaitable[None]]:
        """Record each model turn on the call (the model as the provider named it, the
        first-token time, filler, fallback, guard violations) and in the metrics."""
        async def record(stats: TurnStats) -> None:
            kinds = [v.kind for v in stats.violations]
            self.metrics.llm_turn(business_id, fallback=stats.fallback, filler=stats.filler,
                                  first_token_s=stats.first_token_s, violations=kinds)
            await asyncio.to_thread(business.add_call_event, call_id, "llm.turn", {
                "model": stats.model, "first_token_ms": None if stats.first_token_s is None
                else round(stats.first_token_s * 1000), "filler": stats.filler,
                "fallback": stats.fallback, "rounds": stats.rounds,
                "tool_calls": stats.tool_calls, "tool_errors": stats.tool_errors,
                "errors": stats.errors[:3], "violations": [
                    {"kind": v.kind, "claimed": v.claimed, "said": v.replacement}
                    for v in stats.violations]})
        return record


async def _outbound(business: BusinessStore, call_id: str) -> bool:
    """Whether this leg is a call we placed (the carrier said so when it rang us)."""
    events = await asyncio.to_thread(business.list_call_events, call_id,
                                     kind="carrier.incoming")
    return any(str(e.data.get("Direction", "")).startswith("outbound")
               or e.data.get("direction") == "outgoing" for e in events)


def call_config(settings: EngineSettings) -> CallConfig:
    return CallConfig(
        budget_ms=settings.budget_ms,
        endpoint=EndpointConfig(end_silence_ms=settings.endpoint_silence_ms,
                                speculative_pause_ms=settings.speculative_pause_ms),
        no_input_timeout_ms=settings.no_input_timeout_ms,
    )
