"""`frontdesk policy check` and `frontdesk calls show`, and the calls API, as a user runs them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from frontdesk.audio import SILENCE_FRAME, split_frames
from frontdesk.cli import app
from frontdesk.profile import ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.server.app import create_app
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS, tone_utterance
from frontdesk.store import open_store

runner = CliRunner()
TUESDAY_10 = "2026-12-01T10:00:00-06:00"


def test_one_utterance_prints_the_decision_as_json() -> None:
    result = runner.invoke(app, ["policy", "check", "--now", TUESDAY_10,
                                 "I'm going to sue you for this"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert (decision["category"], decision["action"]) == ("legal", "warm_transfer")
    assert decision["rule"] and "sue" in decision["evidence"]
    assert 0 < decision["confidence"] <= 1 and decision["to"]["number"] == "+15125550199"


def test_lines_from_stdin_give_one_json_object_each() -> None:
    lines = "I'd like to book an oil change\n\nI'm not going to sue anyone\nmy car is on fire\n"
    result = runner.invoke(app, ["policy", "check", "--now", "2026-12-01T20:00:00-06:00"],
                           input=lines)
    assert result.exit_code == 0, result.output
    decisions = [json.loads(line) for line in result.output.splitlines()]
    assert [d["category"] for d in decisions] == [None, None, "emergency"]
    assert decisions[0]["action"] is None and decisions[0]["near_misses"] == []
    assert any(m["category"] == "legal" for m in decisions[1]["near_misses"])
    assert decisions[2]["action"] == "message"  # after hours nobody takes the transfer
    assert decisions[2]["wanted"] == "warm_transfer" and decisions[2]["urgency"] == "urgent"


def test_an_invalid_profile_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(example_profile_text().replace("notify_sms: \"+15125550199\"",
                                                  "notify_sms: \"5550199\""))
    result = runner.invoke(app, ["policy", "check", "-p", str(bad), "hello"])
    assert result.exit_code == 2 and "escalation.notify_sms" in result.output


@pytest.fixture
def escalated_call(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A stored call whose caller demanded a refund, through the WebSocket."""
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", store_url)
    monkeypatch.setenv("FRONTDESK_API_TOKEN", "s3cret")
    profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(20, ["I want a refund for the brake job."]),
                    tts=StubTTS(10, ms_per_char=2), new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([profile]), store, speech,
                      now=lambda: datetime.fromisoformat(TUESDAY_10))
    with TestClient(create_app(runtime)) as client:
        with client.websocket_connect("/call?to=%2B15125550100&caller=%2B15125551234") as ws:
            call_id: str = json.loads(ws.receive_text())["call_id"]
            for frame in [*split_frames(tone_utterance(600)), *[SILENCE_FRAME] * 30]:
                ws.send_bytes(frame)
            while True:
                message = ws.receive()
                if message["type"] == "websocket.close":
                    break
        assert client.get(f"/api/calls/{call_id}").status_code == 401
        wrong = client.get(f"/api/calls/{call_id}", headers={"Authorization": "Bearer no"})
        assert wrong.status_code == 401
        view = client.get(f"/api/calls/{call_id}",
                          headers={"Authorization": "Bearer s3cret"}).json()
        [decision] = [e for e in view["escalations"] if e["kind"] == "escalation.decision"]
        assert (decision["category"], decision["action"]) == ("refund", "warm_transfer")
        assert client.get("/api/calls/nope", headers={"Authorization": "Bearer s3cret"}
                          ).status_code == 404
    store.close()
    return call_id


def test_calls_show_prints_the_escalation_audit(escalated_call: str) -> None:
    result = runner.invoke(app, ["calls", "show", escalated_call])
    assert result.exit_code == 0, result.output
    assert "caller > I want a refund for the brake job." in result.output
    assert "escalation.decision" in result.output and '"category": "refund"' in result.output
    as_json = json.loads(runner.invoke(app, ["calls", "show", "--json", escalated_call]).output)
    assert as_json["call"]["outcome"] == "transferred"
    assert runner.invoke(app, ["calls", "show", "no-such-call"]).exit_code == 1


def test_the_calls_api_is_off_without_a_token(store_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRONTDESK_API_TOKEN", raising=False)
    profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(20, []), tts=StubTTS(10, ms_per_char=2), new_vad=EnergyVAD)
    runtime = Runtime(ProfileRegistry([profile]), store, speech)
    with TestClient(create_app(runtime)) as client:
        assert client.get("/api/calls/x", headers={"Authorization": "Bearer x"}
                          ).status_code == 503
    store.close()
