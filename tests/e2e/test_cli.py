"""The command line in process: init, check, and a whole call with stub providers."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from frontdesk.cli import app
from frontdesk.profile import example_profile_text

runner = CliRunner()


@pytest.fixture
def fast_profile(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example shop, with a stub voice that talks fast so the call is short."""
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", store_url)
    data = yaml.safe_load(example_profile_text())
    data["engine"]["stub"]["tts_ms_per_char"] = 4
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_call_json_books_through_the_stub_path(fast_profile: Path) -> None:
    lines = ["I'd like to book an oil change.", "Thursday at 3 PM.", "John Smith.",
             "Yes, please.", "No, that's all. Goodbye."]
    args = ["call", "--stub", "--json", "--profile", str(fast_profile),
            "--now", "2026-11-25T10:00:00-06:00"]
    for line in lines:
        args += ["--say", line]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["outcome"]["kind"] == "booked"
    assert doc["outcome"]["service"] == "oil-change"
    assert doc["outcome"]["start"] == "2026-11-26T15:00:00-06:00"
    assert doc["outcome"]["name"] == "John Smith"
    assert doc["outcome"]["ended_by"] == "agent_hangup"
    turns = doc["turns"]
    assert [t.get("caller") for t in turns[1:]] == lines
    assert turns[0]["agent"].startswith("Thanks for calling Main Street Auto")
    assert all(set(t["spans_ms"]) >= {"endpoint", "stt", "brain", "tts", "transport"}
               for t in turns[1:])
    assert len(doc["caller_measured_latency_ms"]) == len(lines)


def test_call_prints_the_conversation_with_latency(fast_profile: Path) -> None:
    result = runner.invoke(app, ["call", "--stub", "--profile", str(fast_profile),
                                 "--say", "What are your hours?", "--say", "Goodbye."])
    assert result.exit_code == 0, result.output
    assert "caller  > What are your hours?" in result.output
    assert "We're open Monday to Friday" in result.output
    assert "latency" in result.output and "endpoint=" in result.output
    assert "-- call ended (agent_hangup" in result.output


def test_init_writes_a_valid_profile_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    assert runner.invoke(app, ["init", str(path)]).exit_code == 0
    assert path.read_text() == example_profile_text()
    again = runner.invoke(app, ["init", str(path)])
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(app, ["check", str(path)]).output.strip() == f"{path}: ok"


def test_an_invalid_profile_names_file_field_and_reason(tmp_path: Path) -> None:
    data = yaml.safe_load(example_profile_text())
    data["services"][1]["duration_minutes"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert f"{path}: services[1].duration_minutes: " in result.output
    assert "greater than 0" in result.output
    call = runner.invoke(app, ["call", "--stub", "--profile", str(path), "--say", "hi"])
    assert call.exit_code == 2 and "services[1].duration_minutes" in call.output


def test_wav_caller_lines_and_a_garbled_wav(fast_profile: Path, tmp_path: Path) -> None:
    rate = 8000  # a stereo 8 kHz recording, as a phone capture might be
    t = np.arange(rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 300 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)))
    stereo = np.repeat((tone * 32767).astype("<i2")[:, None], 2, axis=1)
    good = tmp_path / "hello.wav"
    with wave.open(str(good), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(stereo.tobytes())
    result = runner.invoke(app, ["call", "--stub", "--json", "--profile", str(fast_profile),
                                 "--say", "What are your hours?", "--wav", str(good)])
    assert result.exit_code == 0, result.output
    turns = json.loads(result.output)["turns"]
    assert turns[1]["caller"] == "What are your hours?"
    # the WAV line was heard as the second caller turn (the stub STT has no text for it)
    assert turns[2]["caller"] == "" and "didn't catch that" in turns[2]["agent"]

    garbled = tmp_path / "garbled.wav"
    garbled.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really a wav file")
    bad = runner.invoke(app, ["call", "--stub", "--profile", str(fast_profile),
                              "--wav", str(garbled)])
    assert bad.exit_code == 2
    assert "bad caller audio" in bad.output and "garbled.wav" in bad.output


@pytest.mark.parametrize("carrier", ["twilio", "telnyx"])
def test_call_through_an_emulated_carrier_books(fast_profile: Path, carrier: str) -> None:
    lines = ["I'd like to book an oil change.", "Thursday at 3 PM.", "John Smith.",
             "Yes, please.", "No, that's all. Goodbye."]
    args = ["call", "--stub", "--json", "--carrier", carrier, "--profile", str(fast_profile),
            "--now", "2026-11-25T10:00:00-06:00"]
    for line in lines:
        args += ["--say", line]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (doc["status"], doc["outcome"]) == ("completed", "booked")
    assert [t["caller"] for t in doc["turns"][1:]] == lines
    assert doc["carrier"]["hung_up_by_agent"] and doc["carrier"]["marks_echoed"] > 0
    assert len(doc["caller_measured_latency_ms"]) == len(lines)


def test_carrier_option_is_checked(fast_profile: Path) -> None:
    base = ["call", "--stub", "--profile", str(fast_profile), "--say", "hi"]
    assert runner.invoke(app, [*base, "--carrier", "vonage"]).exit_code == 2
    both = runner.invoke(app, [*base, "--carrier", "twilio", "--url", "ws://127.0.0.1:1"])
    assert both.exit_code == 2


def test_serve_refuses_a_half_configured_carrier(
    fast_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    result = runner.invoke(app, ["serve", "--stub", "--profile", str(fast_profile)])
    assert result.exit_code == 2
    assert "TWILIO_AUTH_TOKEN" in result.output
