"""Real local models, loaded once per test session (each takes ~0.5-1 s to load)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from frontdesk.escalation import classify
from frontdesk.speech.piper import PiperTTS
from frontdesk.speech.whisper import WhisperSTT


@pytest.fixture(scope="session", autouse=True)
def _escalation_classifier() -> None:
    """Load the escalation classifier (trained once on a fresh machine, about ten seconds,
    then read from its disk cache) before any test that runs a call against a clock, as
    ``frontdesk serve`` does before its first call."""
    classify.warm()


@pytest.fixture(scope="session")
def piper() -> Iterator[PiperTTS]:
    tts = PiperTTS()
    yield tts
    tts.close()


@pytest.fixture(scope="session")
def whisper() -> Iterator[WhisperSTT]:
    stt = WhisperSTT()
    yield stt
    stt.close()


@pytest.fixture(scope="session")
def caller_piper() -> Iterator[PiperTTS]:
    """The scripted caller's voice: steady, so every run hears the same audio."""
    tts = PiperTTS(steady=True)
    yield tts
    tts.close()


@pytest.fixture
def fresh_postgres() -> str:
    """The test PostgreSQL (scripts/test.sh starts one), emptied of frontdesk's tables."""
    url = os.environ.get("FRONTDESK_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("FRONTDESK_TEST_POSTGRES_URL not set (scripts/test.sh sets it)")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for table in ("findings", "commitment_attempts", "commitments", "call_events",
                          "messages", "bookings", "turns", "calls", "sessions",
                          "alembic_version"):
                conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database for one test: a SQLite file, and (when scripts/test.sh started
    one) the wiped test PostgreSQL: every test that uses it runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'frontdesk.db'}"
    return str(request.getfixturevalue("fresh_postgres"))
