"""Voice-to-voice latency of a scripted 10-turn call; prints JSON.

    python bench/latency.py                 # real local models (whisper, piper, silero)
    python bench/latency.py --stub          # stub providers with fixed delays
    python bench/latency.py --stub --stt-ms 100 --brain-ms 50 --token-ms 20 --tts-ms 80

Latency is measured by the caller on a real-time in-memory line: from the caller's last
speech frame sent to the first agent audio frame received. The engine's own spans are
reported per stage. In stub mode the providers' fixed delays are known, so the engine's
overhead is what remains: latency - endpoint wait - unhidden STT delay - time for the brain
to stream its first phrase (first-text delay + one token delay per further word) - TTS
first-audio delay. The STT delay is hidden when the speculative pass, started at the first
pause, finishes before the end-of-turn decision.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from frontdesk.brain.stub import StubBrain
from frontdesk.call.events import CallerTranscript, TurnMetrics
from frontdesk.call.phrases import PhraseChunker
from frontdesk.client.caller import CallReport
from frontdesk.profile import (
    ProfileRegistry,
    example_profile_text,
    load_profile,
    parse_profile,
)
from frontdesk.runtime import Runtime, Speech
from frontdesk.softphone import (
    Script,
    caller_voice,
    place_call,
    synthesize_lines,
)
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import open_store

SCRIPT = [
    "Hi, what are your hours?",
    "Where are you located?",
    "How much is an oil change?",
    "I'd like to book an oil change.",
    "Thursday at 3 PM.",
    "John Smith.",
    "Yes, please.",
    "Can I leave a message for the mechanic?",
    "My car makes a rattling noise when I brake.",
    "No, that's all. Goodbye.",
]
NOW = "2026-11-25T10:00:00-06:00"
STUB_REPLIES = [f"Sure. This is reply {i}, and a second clause follows it." for i in range(10)]


def words_to_first_phrase(reply: str) -> int:
    """How many streamed words the engine must wait for before the first phrase is cut."""
    chunker = PhraseChunker()
    for count, word in enumerate(reply.split(" "), start=1):
        if chunker.push(word + " "):
            return count
    return len(reply.split(" "))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 1)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99), "max": round(max(values), 1) if values else 0.0}


def pinned_clock() -> Callable[[], datetime]:
    """The business clock starts at NOW (a Wednesday morning) and runs in real time."""
    start, began = datetime.fromisoformat(NOW), datetime.now(UTC)
    return lambda: start + (datetime.now(UTC) - began)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    profile = (load_profile(args.profile) if args.profile
               else parse_profile(example_profile_text(), "<example>"))
    settings = profile.engine
    stub = settings.stub  # the profile's stub delays, unless given on the command line
    args.stt_ms = stub.stt_final_ms if args.stt_ms is None else args.stt_ms
    args.brain_ms = stub.brain_first_text_ms if args.brain_ms is None else args.brain_ms
    args.token_ms = stub.brain_token_ms if args.token_ms is None else args.token_ms
    args.tts_ms = stub.tts_first_audio_ms if args.tts_ms is None else args.tts_ms
    if args.stub:
        speech = Speech(stt=StubSTT(args.stt_ms, SCRIPT * args.calls),
                        tts=StubTTS(args.tts_ms), new_vad=EnergyVAD)
    else:
        speech = Speech.from_settings(settings)
    voice = caller_voice("stub" if args.stub else "piper")
    lines = await synthesize_lines(Script([("say", s) for s in SCRIPT]), voice)
    speech.warmup()
    reports: list[CallReport] = []
    for _ in range(args.calls):  # each call on a fresh store: the same slots are free
        brain = (StubBrain(STUB_REPLIES, first_text_ms=args.brain_ms, token_ms=args.token_ms)
                 if args.stub else None)
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(f"sqlite:///{tmp}/bench.db")
            runtime = Runtime(ProfileRegistry([profile]), store, speech, now=pinned_clock())
            _, report = await place_call(runtime, lines, brain=brain,
                                         to_number=profile.business.phone_numbers[0])
            store.close()
        reports.append(report)
    report = CallReport(events=[e for r in reports for e in r.events],
                        latencies_ms=[v for r in reports for v in r.latencies_ms])
    metrics = [e for e in report.events if isinstance(e, TurnMetrics) and e.latency_ms]
    stages: dict[str, list[float]] = {}
    for m in metrics:
        for stage, ms in m.spans_ms.items():
            stages.setdefault(stage, []).append(ms)
    result: dict[str, Any] = {
        "bench": "latency",
        "mode": "stub" if args.stub else "real",
        "date": datetime.now(UTC).date().isoformat(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "calls": args.calls,
        "turns": len(report.latencies_ms),
        "voice_to_voice_ms": summary(report.latencies_ms),
        "engine_latency_ms": summary([m.latency_ms for m in metrics if m.latency_ms]),
        "stages_ms": {k: summary(v) for k, v in stages.items()},
        "caller_heard_as": [e.text for e in report.events if isinstance(e, CallerTranscript)],
        "outcomes": [r.ended.outcome if r.ended else None for r in reports],
        "budget_ms": settings.budget_ms,
        "over_budget_turns": sum(1 for v in report.latencies_ms if v > settings.budget_ms),
    }
    if args.stub:
        hidden = settings.endpoint_silence_ms - settings.speculative_pause_ms
        first_phrase = args.brain_ms + args.token_ms * (words_to_first_phrase(STUB_REPLIES[0]) - 1)
        fixed = max(0.0, args.stt_ms - hidden) + first_phrase + args.tts_ms
        overhead = [m.latency_ms - m.spans_ms.get("endpoint", 0.0) - fixed
                    for m in metrics if m.latency_ms]
        result["stub_delays_ms"] = {"stt_final": args.stt_ms, "brain_first_text": args.brain_ms,
                                    "brain_token": args.token_ms, "tts_first_audio": args.tts_ms}
        result["engine_overhead_ms"] = summary(overhead)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stub", action="store_true", help="stub providers, fixed delays")
    parser.add_argument("--profile", help="business profile YAML (default: the example shop); "
                        "its engine section sets endpointing and the stub delays")
    parser.add_argument("--calls", type=int, default=1, help="scripted calls to run")
    parser.add_argument("--stt-ms", type=float, default=None)
    parser.add_argument("--brain-ms", type=float, default=None)
    parser.add_argument("--token-ms", type=float, default=None)
    parser.add_argument("--tts-ms", type=float, default=None)
    result = asyncio.run(run(parser.parse_args()))
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
