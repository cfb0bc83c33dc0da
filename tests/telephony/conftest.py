"""The carrier harness over a stub runtime, at the test module's ``NOW``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from frontdesk.client.harness import CarrierHarness, carrier_harness
from frontdesk.profile import ProfileRegistry, example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import open_store


@pytest.fixture
async def edge(store_url: str, request: pytest.FixtureRequest
               ) -> AsyncIterator[tuple[Runtime, CarrierHarness]]:
    profile = parse_profile(example_profile_text(), "<example>")
    store = open_store(store_url)
    speech = Speech(stt=StubSTT(10, []), tts=StubTTS(5, ms_per_char=1), new_vad=EnergyVAD)
    now = request.module.NOW
    runtime = Runtime(ProfileRegistry([profile]), store, speech, now=lambda: now)
    async with carrier_harness(runtime) as harness:
        yield runtime, harness
    store.close()
