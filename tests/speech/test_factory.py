"""The factory maps configuration strings to providers, loading only what is asked for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.factory import build_stt, build_tts, vad_factory
from frontdesk.speech.silero import SileroVAD
from frontdesk.speech.stub import StubSTT, StubTTS


def test_stub_kinds_take_their_delays() -> None:
    stt = build_stt("stub", final_ms=120, script=["hi"])
    assert isinstance(stt, StubSTT) and stt.final_ms == 120
    tts = build_tts("stub", first_audio_ms=80, ms_per_char=5)
    assert isinstance(tts, StubTTS)
    assert (tts.first_audio_ms, tts.ms_per_char) == (80, 5)


def test_vad_factories_make_fresh_detectors() -> None:
    make = vad_factory("energy")
    assert isinstance(make(), EnergyVAD) and make() is not make()
    silero = vad_factory("silero")
    first, second = silero(), silero()
    assert isinstance(first, SileroVAD) and first is not second


@pytest.mark.parametrize(
    ("builder", "kind"),
    [(build_stt, "deepgram"), (build_tts, "espeak"), (vad_factory, "webrtc")],
)
def test_unknown_kind_lists_the_valid_ones(builder: object, kind: str) -> None:
    with pytest.raises(ValueError, match="expected one of"):
        builder(kind)  # type: ignore[operator]


def test_stub_kinds_import_no_model_package() -> None:
    code = (
        "import sys\n"
        "from frontdesk.speech.factory import build_stt, build_tts, vad_factory\n"
        "build_stt('stub'); build_tts('stub'); vad_factory('energy')()\n"
        "heavy = {'faster_whisper', 'piper', 'onnxruntime', 'ctranslate2'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
