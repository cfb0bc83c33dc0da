"""The Call with small in-test providers: turn flow, streaming order and barge-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import numpy as np
import pytest

from frontdesk.audio.pcm import FRAME_BYTES, SILENCE_FRAME
from frontdesk.brain.base import BrainOutput, CallerTurn, Hangup, Text
from frontdesk.call.endpoint import EndpointConfig
from frontdesk.call.engine import Call, CallConfig, CallParts
from frontdesk.call.events import (
    AgentPhraseStarted,
    AgentTurnDone,
    BargeIn,
    CallEnded,
    CallerTranscript,
    ClearAudio,
    EndReason,
    EventBus,
    StateChanged,
    TurnMetrics,
)
from frontdesk.call.turns import TurnState
from frontdesk.client.caller import CallerLine, LoopbackLine, ScriptedCaller
from frontdesk.speech.base import Samples, SpeechError, Transcript

LOUD = (np.full(FRAME_BYTES // 2, 8000, dtype="<i2")).tobytes()


def speech(frames: int) -> list[bytes]:
    return [LOUD] * frames


class LevelVAD:
    """Speech is any non-silent frame: the tests control exactly when the caller talks."""

    def speech_probability(self, frame: bytes) -> float:
        return 1.0 if any(frame) else 0.0

    def reset(self) -> None:
        pass


class ListSTT:
    name = "list"

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.calls = 0

    async def transcribe(self, audio: Samples) -> Transcript:
        self.calls += 1
        await asyncio.sleep(0)
        return Transcript(self.texts.pop(0) if self.texts else "", 0.9)


class FrameTTS:
    """Each phrase becomes 3 frames per word of a constant tone."""

    name = "frames"

    def __init__(self) -> None:
        self.phrases: list[str] = []

    async def stream(self, text: str) -> AsyncGenerator[bytes, None]:
        self.phrases.append(text)
        await asyncio.sleep(0)
        for _ in range(3 * len(text.split())):
            yield LOUD


class ScriptBrain:
    def __init__(self, replies: list[str], hangup_on: str = "bye") -> None:
        self.replies = replies
        self.turns: list[CallerTurn] = []
        self.heard_log: list[tuple[str, bool]] = []
        self.hangup_on = hangup_on

    async def greet(self) -> AsyncGenerator[BrainOutput, None]:
        yield Text("Hello. ")
        yield Text("How can I help?")

    async def respond(self, turn: CallerTurn) -> AsyncGenerator[BrainOutput, None]:
        self.turns.append(turn)
        reply = self.replies.pop(0) if self.replies else "Goodbye."
        for word in reply.split(" "):
            yield Text(word + " ")
        if turn.text == self.hangup_on:
            yield Hangup()

    def heard(self, played_text: str, interrupted: bool) -> None:
        self.heard_log.append((played_text, interrupted))


def make_call(stt: ListSTT, brain: ScriptBrain, caller: ScriptedCaller) -> tuple[Call, EventBus]:
    bus = EventBus()
    caller.attach(bus)
    config = CallConfig(endpoint=EndpointConfig(min_speech_ms=60, end_silence_ms=200,
                                                speculative_pause_ms=100))
    assert isinstance(caller.line, LoopbackLine)
    parts = CallParts(stt=stt, tts=FrameTTS(), vad=LevelVAD(), brain=brain,
                      output=caller.line, bus=bus)
    return Call(config, parts), bus


async def test_two_turns_then_agent_hangs_up() -> None:
    stt = ListSTT(["book me in", "bye"])
    brain = ScriptBrain(["Sure. Which day?", "Thanks for calling. Goodbye."])
    caller = ScriptedCaller([CallerLine(speech(20), "book me in"), CallerLine(speech(10), "bye")],
                            realtime=False)
    call, _ = make_call(stt, brain, caller)
    report = await caller.run(call.run)

    assert report.ended is not None and report.ended.reason == "agent_hangup"
    assert [t.text for t in brain.turns] == ["book me in", "bye"]
    transcripts = [e.text for e in report.events if isinstance(e, CallerTranscript)]
    assert transcripts == ["book me in", "bye"]
    done = [e for e in report.events if isinstance(e, AgentTurnDone)]
    assert [d.played_text for d in done] == [
        "Hello. How can I help?", "Sure. Which day?", "Thanks for calling. Goodbye."]
    assert not any(d.interrupted for d in done)
    # the speculative pass at the first pause is reused: one transcription per turn
    assert stt.calls == 2
    metrics = [e for e in report.events if isinstance(e, TurnMetrics) and e.turn > 0]
    assert all(set(m.spans_ms) == {"endpoint", "stt", "brain", "tts", "transport"}
               for m in metrics)
    states = [e.state for e in report.events if isinstance(e, StateChanged)]
    assert states[:4] == [TurnState.THINKING, TurnState.AGENT_SPEAKING, TurnState.LISTENING,
                          TurnState.CALLER_SPEAKING]
    assert states[-1] is TurnState.ENDED


async def test_first_phrase_plays_before_the_reply_is_complete() -> None:
    stt = ListSTT(["question"])
    brain = ScriptBrain(["One short phrase. Then a much longer second sentence follows here."])
    caller = ScriptedCaller([CallerLine(speech(10))], realtime=False, tail_ms=3000)
    call, bus = make_call(stt, brain, caller)
    order: list[str] = []
    bus.subscribe(AgentPhraseStarted, lambda e: order.append(f"play:{e.text}"))
    await caller.run(call.run)
    assert order[2:4] == ["play:One short phrase.",
                          "play:Then a much longer second sentence follows here."]


async def test_barge_in_stops_playback_and_keeps_only_the_played_text() -> None:
    long_reply = "First we check the calendar. Then we look at every bay. Then we call you back."
    stt = ListSTT(["tell me everything", "stop"])
    brain = ScriptBrain([long_reply, "Okay."])
    caller = ScriptedCaller(
        [CallerLine(speech(10)), CallerLine(speech(15), barge_in_after_frames=20)],
        realtime=False, tail_ms=2000,
    )
    call, _ = make_call(stt, brain, caller)
    report = await caller.run(call.run)

    barge = [e for e in report.events if isinstance(e, BargeIn)]
    assert len(barge) == 1
    interrupted = [e for e in report.events if isinstance(e, AgentTurnDone) and e.interrupted]
    assert len(interrupted) == 1
    played = interrupted[0].played_text
    # the caller heard 20 frames, then 3 more while its speech reached the minimum length:
    # phrase one is 5 words x 3 frames; 8 of phrase two's 18 frames carry 2 of its 6 words,
    # and a cut phrase keeps one word less (a real voice is not linear in characters)
    assert played == "First we check the calendar. Then"
    assert brain.heard_log[1] == (played, True)
    # after the decision at most one more frame (the one already on the line) is heard
    assert sum(isinstance(e, ClearAudio) for e in report.events) == 1
    assert report.frames_after_clear == [0]
    assert brain.turns[-1].text == "stop"


async def test_a_key_press_interrupts_the_agent_and_is_a_whole_turn() -> None:
    stt = ListSTT([])
    brain = ScriptBrain(["You pressed a key. Goodbye."], hangup_on="")
    caller = ScriptedCaller([CallerLine((), dtmf="0", barge_in_after_frames=5)],
                            realtime=False, tail_ms=2000)
    call, _ = make_call(stt, brain, caller)
    report = await caller.run(call.run)

    assert [(t.dtmf, t.text) for t in brain.turns] == [("0", "")]
    assert stt.calls == 0
    greeting = next(e for e in report.events if isinstance(e, AgentTurnDone))
    assert greeting.interrupted and greeting.played_text != "Hello. How can I help?"
    assert report.frames_after_clear == [0]
    assert report.ended is not None and report.ended.reason == "agent_hangup"


class GateSTT(ListSTT):
    """The first transcription waits until released; later ones answer at once."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__(texts)
        self.gate = asyncio.Event()
        self.samples: list[int] = []

    async def transcribe(self, audio: Samples) -> Transcript:
        self.samples.append(len(audio))
        if len(self.samples) == 1:
            await self.gate.wait()
        return await super().transcribe(audio)


async def test_speech_before_the_reply_is_heard_continues_the_same_turn() -> None:
    """A long pause mid-sentence ended the turn, but the caller went on before the agent
    said anything: one turn with both halves, not a lost first half."""
    stt = GateSTT(["book an oil change on thursday"])
    brain = ScriptBrain(["Sure."])
    halves = speech(10) + [SILENCE_FRAME] * 12 + speech(10)
    caller = ScriptedCaller([CallerLine(halves)], realtime=False, tail_ms=1500)
    call, _ = make_call(stt, brain, caller)
    report = await caller.run(call.run)

    assert [t.text for t in brain.turns] == ["book an oil change on thursday"]
    assert stt.samples[-1] >= 20 * 320 + 12 * 320  # both halves and the pause
    done = [e for e in report.events if isinstance(e, AgentTurnDone)]
    assert [d.turn for d in done] == [0, 1] and done[1].played_text == "Sure."


async def test_a_hang_up_mid_reply_is_not_a_barge_in() -> None:
    brain = ScriptBrain(["This reply is long enough to be cut off by the caller going away."])
    caller = ScriptedCaller([CallerLine(speech(10)), CallerLine((), hangup=True,
                                                                barge_in_after_frames=10)],
                            realtime=False)
    call, _ = make_call(ListSTT(["tell me"]), brain, caller)
    report = await caller.run(call.run)

    assert report.ended is not None and report.ended.reason == EndReason.CALLER_HANGUP
    assert not any(isinstance(e, BargeIn | ClearAudio) for e in report.events)
    cut = [e for e in report.events if isinstance(e, AgentTurnDone)][-1]
    assert cut.interrupted and cut.played_text.startswith("This reply")
    assert len(cut.played_text.split()) < 13


class FailingTTS(FrameTTS):
    async def stream(self, text: str) -> AsyncGenerator[bytes, None]:
        if "boom" in text:
            raise SpeechError("voice server went away", retryable=True)
        async for frame in super().stream(text):
            yield frame


async def test_a_failed_phrase_is_skipped_and_the_call_goes_on() -> None:
    bus = EventBus()
    caller = ScriptedCaller([CallerLine(speech(10)), CallerLine(speech(10))], realtime=False)
    caller.attach(bus)
    brain = ScriptBrain(["This goes boom. This part plays.", "Goodbye."], hangup_on="bye")
    assert isinstance(caller.line, LoopbackLine)
    parts = CallParts(stt=ListSTT(["hi", "bye"]), tts=FailingTTS(), vad=LevelVAD(),
                      brain=brain, output=caller.line, bus=bus)
    report = await caller.run(Call(CallConfig(endpoint=EndpointConfig(
        min_speech_ms=60, end_silence_ms=200, speculative_pause_ms=100)), parts).run)

    done = [e for e in report.events if isinstance(e, AgentTurnDone)]
    assert done[1].played_text == "This part plays."
    assert done[1].planned_text == "This goes boom. This part plays."
    assert report.ended is not None and report.ended.reason == EndReason.AGENT_HANGUP


async def test_a_pause_transcription_is_not_reused_for_a_later_utterance() -> None:
    """Speech, a pause (a speculative pass starts), a key press, then new speech of the
    same length: the new speech gets its own transcription."""
    stt = ListSTT(["the first words", "the second words"])
    brain = ScriptBrain(["Noted.", "Okay."])
    paused = speech(10) + [SILENCE_FRAME] * 6  # a pause, not an end of turn
    caller = ScriptedCaller([CallerLine(paused), CallerLine((), dtmf="5", barge_in_after_frames=0),
                             CallerLine(speech(10))],
                            realtime=False, tail_ms=1500)
    call, _ = make_call(stt, brain, caller)
    await caller.run(call.run)
    assert [(t.dtmf, t.text) for t in brain.turns] == [("5", ""), (None, "the second words")]


class BuggyBrain(ScriptBrain):
    async def respond(self, turn: CallerTurn) -> AsyncGenerator[BrainOutput, None]:
        raise RuntimeError("a bug")
        yield Text("never")


async def test_a_bug_ends_the_call_with_an_error_event_and_surfaces() -> None:
    caller = ScriptedCaller([CallerLine(speech(10))], realtime=False)
    call, _ = make_call(ListSTT(["hi"]), BuggyBrain([]), caller)
    with pytest.raises(ExceptionGroup):
        await caller.run(call.run)
    ended = [e for e in caller.report.events if isinstance(e, CallEnded)]
    assert [e.reason for e in ended] == [EndReason.ERROR]
