"""The FastAPI app in process: health, metrics and a whole call over the WebSocket."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from frontdesk.audio import SILENCE_FRAME, split_frames
from frontdesk.brain.base import BrainOutput, CallerTurn, Text
from frontdesk.profile import Profile, ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import OpenCall, Runtime, Speech
from frontdesk.server.app import create_app
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS, tone_utterance
from frontdesk.store import open_store

NOW = datetime.fromisoformat("2026-11-25T10:00:00-06:00")
NUMBER = "%2B15125550100"


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(20, ["What are your hours?", "Goodbye."]),
                    tts=StubTTS(10, ms_per_char=2), new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)
    with TestClient(create_app(runtime)) as test_client:
        yield test_client
    store.close()


def receive_until(ws: WebSocketTestSession, kind: str, limit: int = 5000) -> list[dict[str, Any]]:
    """Read messages (skipping audio) until a JSON event of ``kind``; returns the events."""
    events: list[dict[str, Any]] = []
    for _ in range(limit):
        message = ws.receive()
        if message.get("text"):
            event = json.loads(message["text"])
            events.append(event)
            if event["type"] == kind:
                return events
    raise AssertionError(f"no {kind} event; got {[e['type'] for e in events]}")


def until_closed(ws: WebSocketTestSession) -> None:
    """Read until the server closes the socket, which it does once the call's rows are
    written (agent audio and late events are skipped)."""
    for _ in range(5000):
        if ws.receive()["type"] == "websocket.close":
            return
    raise AssertionError("the server did not close the socket")


def say(ws: WebSocketTestSession, ms: int) -> None:
    for frame in split_frames(tone_utterance(ms)):
        ws.send_bytes(frame)
    for _ in range(30):
        ws.send_bytes(SILENCE_FRAME)


def test_health_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "businesses": ["main-street-auto"]}
    metrics = client.get("/metrics").text
    assert "frontdesk_turn_latency_seconds" in metrics


def test_a_call_over_the_websocket(client: TestClient) -> None:
    with client.websocket_connect(f"/call?to={NUMBER}&caller=%2B15125550123") as ws:
        hello = json.loads(ws.receive_text())
        assert hello["type"] == "call" and hello["business"] == "main-street-auto"
        greeting = receive_until(ws, "agent_turn")[-1]
        assert greeting["played"].startswith("Thanks for calling Main Street Auto")
        say(ws, 600)
        events = receive_until(ws, "agent_turn")
        transcript = next(e for e in events if e["type"] == "transcript")
        assert transcript["text"] == "What are your hours?"
        assert "Monday" in events[-1]["played"]
        latency = next(e for e in events if e["type"] == "latency")
        assert latency["latency_ms"] is not None and latency["budget_ms"] == 1000
        say(ws, 400)
        end = receive_until(ws, "end")[-1]
        assert end["reason"] == "agent_hangup"
    metrics = client.get("/metrics").text
    assert 'frontdesk_calls_total{business="main-street-auto",outcome="none"} 1.0' in metrics
    assert "frontdesk_turn_latency_seconds_count" in metrics


def test_bad_messages_get_typed_errors_and_the_call_goes_on(client: TestClient) -> None:
    with client.websocket_connect(f"/call?to={NUMBER}") as ws:
        ws.receive_text()
        ws.send_bytes(b"\x00" * 100)
        ws.send_text("{not json")
        ws.send_text(json.dumps({"type": "dtmf", "digit": "x"}))
        ws.send_text(json.dumps({"type": "teleport"}))
        codes = [e["code"] for e in receive_until(ws, "agent_turn") if e["type"] == "error"]
        assert codes == ["bad_audio", "bad_json", "bad_dtmf", "unknown_type"]
        say(ws, 600)
        events = receive_until(ws, "agent_turn")
        assert any(e["type"] == "transcript" for e in events)
        ws.send_text(json.dumps({"type": "hangup"}))
        assert receive_until(ws, "end")[-1]["reason"] == "caller_hangup"


def test_unknown_number_is_refused(client: TestClient) -> None:
    with client.websocket_connect("/call?to=%2B19995550000") as ws:
        error = json.loads(ws.receive_text())
        assert error == {"type": "error", "code": "unknown_number",
                         "message": "no business answers +19995550000"}


def test_one_server_hosts_several_businesses(tmp_path: Path) -> None:
    first = parse_profile(example_profile_text(), "<example>")
    data = yaml.safe_load(example_profile_text())
    data["business"].update(id="second-shop", name="Second Shop",
                            phone_numbers=["+15125550200"],
                            greeting="Second Shop, how can I help?")
    second = Profile.model_validate(data)
    store = open_store(f"sqlite:///{tmp_path}/two.db")
    speech = Speech(stt=StubSTT(0, []), tts=StubTTS(0, ms_per_char=1), new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([first, second]), store, speech, now=lambda: NOW)
    with TestClient(create_app(runtime)) as client:
        greetings = {}
        for number in ("%2B15125550100", "%2B15125550200"):
            with client.websocket_connect(f"/call?to={number}") as ws:
                business = json.loads(ws.receive_text())["business"]
                greetings[business] = receive_until(ws, "agent_turn")[-1]["played"]
                ws.send_text(json.dumps({"type": "hangup"}))
                receive_until(ws, "end")
    assert greetings["second-shop"] == "Second Shop, how can I help?"
    assert greetings["main-street-auto"].startswith("Thanks for calling Main Street Auto")
    main_calls = store.for_business("main-street-auto").list_calls()
    second_calls = store.for_business("second-shop").list_calls()
    assert [c.to_number for c in main_calls] == ["+15125550100"]
    assert [c.to_number for c in second_calls] == ["+15125550200"]
    assert store.for_business("second-shop").get_call(main_calls[0].id) is None
    store.close()


class BrokenBrain:
    """A brain with a bug: the call must end as failed, logged, with the client told."""

    async def greet(self) -> AsyncGenerator[BrainOutput, None]:
        yield Text("Hello.")

    async def respond(self, turn: CallerTurn) -> AsyncGenerator[BrainOutput, None]:
        raise RuntimeError("a bug in the brain")
        yield Text("never")  # pragma: no cover  (makes this an async generator)

    def heard(self, played_text: str, interrupted: bool) -> None:
        pass


def test_a_bug_in_the_call_ends_it_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(f"sqlite:///{tmp_path}/f.db")
    speech = Speech(stt=StubSTT(0, ["hello"]), tts=StubTTS(0, ms_per_char=1), new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)
    real_open = runtime.open_call

    async def open_with_broken_brain(**kwargs: Any) -> OpenCall:
        return await real_open(**kwargs, brain=BrokenBrain())

    monkeypatch.setattr(runtime, "open_call", open_with_broken_brain)
    with TestClient(create_app(runtime)) as client, \
            client.websocket_connect(f"/call?to={NUMBER}") as ws:
        call_id = json.loads(ws.receive_text())["call_id"]
        receive_until(ws, "agent_turn")
        say(ws, 400)
        error = receive_until(ws, "error")[-1]
        assert error["code"] == "internal"
    record = store.for_business("main-street-auto").get_call(call_id)
    assert record is not None and record.status == "failed"
    assert f"call {call_id} failed" in caplog.text
    store.close()


@pytest.fixture
def quick_drop(store_url: str) -> Iterator[tuple[TestClient, Any]]:
    """A server whose profile calls a line dead after 300 ms without a message."""
    text = example_profile_text().replace("media_timeout_ms: 10000", "media_timeout_ms: 300")
    profile = parse_profile(text, "<example>")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(20, ["I'd like to book an oil change."]),
                    tts=StubTTS(10, ms_per_char=2), new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([profile]), store, speech, now=lambda: NOW)
    with TestClient(create_app(runtime)) as test_client:
        yield test_client, store.for_business("main-street-auto")
    store.close()


def test_a_client_that_goes_quiet_mid_booking_is_a_dropped_call(
    quick_drop: tuple[TestClient, Any]
) -> None:
    client, shop = quick_drop
    with client.websocket_connect(f"/call?to={NUMBER}&caller=%2B15125550123") as ws:
        call_id = json.loads(ws.receive_text())["call_id"]
        receive_until(ws, "agent_turn")
        say(ws, 600)
        events = receive_until(ws, "agent_turn")
        assert "oil change" in events[-1]["played"]
        # the client sends nothing more, not even silence: its audio path is dead
        assert receive_until(ws, "end")[-1]["reason"] == "dropped"
        until_closed(ws)
    record = shop.get_call(call_id)
    assert record is not None and record.end_reason == "dropped"
    [session] = shop.sessions_for("+15125550123")
    assert (session.status, session.snapshot is not None) == ("dropped", True)

