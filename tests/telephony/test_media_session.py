"""A media session over a scripted socket: what a carrier can do in one burst of messages."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import datetime

import pytest

from frontdesk.profile import ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS, tone_utterance
from frontdesk.store import open_store
from frontdesk.telephony.codec import PhoneAudio
from frontdesk.telephony.session import MediaSession
from frontdesk.telephony.twilio.media import TwilioMediaStream

NOW = datetime.fromisoformat("2026-11-25T10:00:00-06:00")
CALL_SID = "CA" + "a" * 32


class BurstSocket:
    """Gives ``start``; once the agent is talking (``after`` media messages sent) hands over
    the rest in one burst without yielding, as a buffered transport can; then waits for
    the session to close it."""

    def __init__(self, start: str, burst: list[str], after: int) -> None:
        self._start: str | None = start
        self._burst: Iterator[str] = iter(burst)
        self._after = after
        self._talking = asyncio.Event()
        self._gone = asyncio.Event()
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None

    async def receive(self) -> str | None:
        if self._start is not None:
            start, self._start = self._start, None
            return start
        await self._talking.wait()
        message = next(self._burst, None)
        if message is None:
            await self._gone.wait()
        return message

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text)["event"])
        if self.sent.count("media") >= self._after:
            self._talking.set()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._gone.set()


def _message(event: str, seq: int, **body: object) -> str:
    return json.dumps({"event": event, "sequenceNumber": str(seq), "streamSid": "MZ1", **body})


@pytest.fixture
def runtime(store_url: str) -> Iterator[Runtime]:
    profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(10, ["What are your hours?"]), tts=StubTTS(5, ms_per_char=30),
                    new_vad=EnergyVAD)
    yield Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)
    store.close()


async def test_caller_audio_queued_behind_stop_ends_the_call_cleanly(runtime: Runtime) -> None:
    """The carrier's ``stop`` is read before the engine has heard the speech in front of
    it: that speech may barge in, but nothing is sent on the stopped stream and the call is
    a normal hang-up, not a failure."""
    shop = runtime.store.for_business("main-street-auto")
    call = shop.create_call("+15125550123", "+15125550100", carrier="twilio",
                            carrier_call_id=CALL_SID, status="active")
    codec = PhoneAudio()
    speech = tone_utterance(800)
    frames = [codec.encode(speech[i:i + 640]) for i in range(0, len(speech) - 639, 640)]
    start = _message("start", 1, start={
        "streamSid": "MZ1", "accountSid": "AC1", "callSid": CALL_SID, "tracks": ["inbound"],
        "customParameters": {}, "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                                "channels": 1}})
    messages = [_message("media", i + 2, media={"track": "inbound", "chunk": str(i + 1),
                                                 "timestamp": str(i * 20),
                                                 "payload": base64.b64encode(f).decode()})
                 for i, f in enumerate(frames)]
    messages.append(_message("stop", len(frames) + 2, stop={"callSid": CALL_SID}))
    socket = BurstSocket(start, messages, after=10)
    session = MediaSession(runtime, shop, call, TwilioMediaStream(), None, socket)
    await asyncio.wait_for(session.run(), 10)
    ended = shop.get_call(call.id)
    assert ended is not None
    assert (ended.status, ended.end_reason) == ("completed", "caller_hangup")
    assert socket.closed == (1000, "call ended")
    assert "clear" not in socket.sent  # the barge-in came after stop: nothing to send


class QuietSocket:
    """Gives ``start``, then nothing at all, as a stream whose media path died does."""

    def __init__(self, start: str) -> None:
        self._start: str | None = start
        self._gone = asyncio.Event()
        self.closed: list[tuple[int, str]] = []

    async def receive(self) -> str | None:
        if self._start is not None:
            start, self._start = self._start, None
            return start
        await self._gone.wait()
        return None

    async def send(self, text: str) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))
        self._gone.set()


async def test_a_stream_with_no_media_past_the_timeout_is_a_dropped_call(store_url: str) -> None:
    text = example_profile_text().replace("media_timeout_ms: 10000", "media_timeout_ms: 200")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(10, []), tts=StubTTS(5, ms_per_char=1), new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([parse_profile(text, "<quick>")]), store, speech,
                      now=lambda: NOW)
    shop = store.for_business("main-street-auto")
    call = shop.create_call("+15125550123", "+15125550100", carrier="twilio",
                            carrier_call_id=CALL_SID, status="active")
    start = _message("start", 1, start={
        "streamSid": "MZ1", "accountSid": "AC1", "callSid": CALL_SID, "tracks": ["inbound"],
        "customParameters": {}, "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                                "channels": 1}})
    socket = QuietSocket(start)
    session = MediaSession(runtime, shop, call, TwilioMediaStream(), None, socket)
    await asyncio.wait_for(session.run(), 10)
    ended = shop.get_call(call.id)
    assert ended is not None and ended.end_reason == "dropped"
    assert socket.closed[0] == (1011, "media timeout")
    [event] = shop.list_call_events(call.id, kind="stream.media_timeout")
    assert event.data == {"after_ms": 200}
    store.close()
