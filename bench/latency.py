"""Voice-to-voice latency of a scripted 10-turn call; prints JSON.

    python bench/latency.py                 # real local models (whisper, piper, silero)
    python bench/latency.py --stub          # stub providers with fixed delays
    python bench/latency.py --stub --stt-ms 100 --brain-ms 50 --token-ms 20 --tts-ms 80
    python bench/latency.py --stub --carrier twilio --calls 5   # + the carrier path

Latency is measured by the caller on a real-time in-memory line: from the caller's last
speech frame sent to the first agent audio frame received. The engine's own spans are
reported per stage. In stub mode the providers' fixed delays are known, so the engine's
overhead is what remains: latency - endpoint wait - unhidden STT delay - time for the brain
to stream its first phrase (first-text delay + one token delay per further word) - TTS
first-audio delay. The STT delay is hidden when the speculative pass, started at the first
pause, finishes before the end-of-turn decision.

``--carrier twilio`` (or ``telnyx``) also places every call through the carrier emulator:
frontdesk on a real uvicorn on loopback, the call placed as the carrier does (signed
webhook, media WebSocket, 20 ms μ-law frames, marks, REST hang-up), the caller measuring
on its side of that line. Direct and carrier calls alternate in one invocation with the
same providers and the same brain (in stub mode the same stub brain on both paths), so
the difference between the two is what the carrier path adds; it is reported under
``carrier_overhead_ms`` (target: at most 30 ms at p95). The top-level figures stay those of
the direct path.

``--llm`` puts the LLM brain in front of the receptionist (``brain: llm`` in the same
profile), pointed at the local llama.cpp server that ``llm_llama_ttft.py`` starts (Gemma 3
270M), with the profile's default deadlines (filler at 800 ms, the receptionist answers past
4000 ms). It works with real models and with ``--stub`` (stub speech; the brain is then the
model, so the stub brain delays and the engine overhead are not reported). The JSON adds
the brain, and from each call's ``llm.turn`` events the share of model turns where the
filler or a fallback engaged. No warm-up call: the first model turn evaluates the system
prompt cold.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

from _carrier_path import CarrierRun, carrier_call, paired
from _stats import machine, summary
from frontdesk.brain.base import Brain
from frontdesk.brain.stub import StubBrain
from frontdesk.call.events import CallerTranscript, TurnMetrics
from frontdesk.call.phrases import PhraseChunker
from frontdesk.client.caller import CallerLine, CallReport
from frontdesk.profile import (
    Profile,
    ProfileRegistry,
    example_profile_text,
    load_profile,
    parse_profile,
)
from frontdesk.profile.llm import LlmProvider, LlmSettings
from frontdesk.runtime import Runtime, Speech
from frontdesk.softphone import (
    Script,
    caller_voice,
    place_call,
    synthesize_lines,
)
from frontdesk.speech.energy import EnergyVAD
from frontdesk.speech.stub import StubSTT, StubTTS
from frontdesk.store import CallEventRecord, open_store
from llm_llama_ttft import MODEL_ALIAS, Served, llama_server

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
CARRIER_OVERHEAD_TARGET_MS = 30.0


def words_to_first_phrase(reply: str) -> int:
    """How many streamed words the engine must wait for before the first phrase is cut."""
    chunker = PhraseChunker()
    for count, word in enumerate(reply.split(" "), start=1):
        if chunker.push(word + " "):
            return count
    return len(reply.split(" "))


def pinned_clock() -> Callable[[], datetime]:
    """The business clock starts at NOW (a Wednesday morning) and runs in real time."""
    start, began = datetime.fromisoformat(NOW), datetime.now(UTC)
    return lambda: start + (datetime.now(UTC) - began)


async def direct_call(profile: Profile, speech: Speech, lines: Sequence[CallerLine],
                      brain: Brain | None) -> tuple[CallReport, list[CallEventRecord]]:
    """One call on the in-process line, on a fresh store: the same slots are free. Also
    returns the call's ``llm.turn`` events (none unless the profile says brain: llm)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.db")
        runtime = Runtime(ProfileRegistry([profile]), store, speech, now=pinned_clock())
        call_id, report = await place_call(runtime, lines, brain=brain,
                                           to_number=profile.business.phone_numbers[0])
        await runtime.aclose()  # the model clients' connection pools, if any
        llm_turns = store.for_business(profile.business.id).list_call_events(
            call_id, kind="llm.turn")
        store.close()
    return report, llm_turns


def llm_figures(turns: Sequence[CallEventRecord]) -> dict[str, Any]:
    """Filler and fallback shares over the model's turns, as ``llm_brain.py`` reports them."""
    n = len(turns)
    fallbacks: dict[str, int] = {}
    for t in turns:
        key = str(t.data.get("fallback") or "none")
        fallbacks[key] = fallbacks.get(key, 0) + 1
    return {
        "model_turns": n,
        "models": sorted({str(t.data["model"]) for t in turns if t.data.get("model")}),
        "filler_share": round(sum(1 for t in turns if t.data.get("filler")) / n, 3) if n else None,
        "fallback_share": {k: round(v / n, 3) for k, v in sorted(fallbacks.items())},
        "first_token_ms": summary([float(t.data["first_token_ms"]) for t in turns
                                   if t.data.get("first_token_ms") is not None]),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """The bench, with the llama.cpp server up for ``--llm``."""
    async with AsyncExitStack() as stack:
        served = await stack.enter_async_context(llama_server(None)) if args.llm else None
        return await measure(args, served)


async def measure(args: argparse.Namespace, served: Served | None) -> dict[str, Any]:
    profile = (load_profile(args.profile) if args.profile
               else parse_profile(example_profile_text(), "<example>"))
    if served is not None:  # the profile's own llm deadlines, or the defaults
        provider = LlmProvider(kind="openai", base_url=served.base_url, model=MODEL_ALIAS)
        llm = (profile.llm.model_copy(update={"provider": provider, "fallback_provider": None})
               if profile.llm else LlmSettings(provider=provider))
        profile = profile.model_copy(update={"brain": "llm", "llm": llm})
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
    # the carrier path gets its own scripted STT (the script is consumed per transcript);
    # real models are shared, they hold no per-call state
    carrier_speech = (dataclasses.replace(speech, stt=StubSTT(args.stt_ms, SCRIPT * args.calls))
                      if args.stub else speech)
    voice = caller_voice("stub" if args.stub else "piper")
    lines = await synthesize_lines(Script([("say", s) for s in SCRIPT]), voice)
    speech.warmup()

    def new_brain() -> Brain | None:  # None: the profile's brain (with --llm, the model)
        return (StubBrain(STUB_REPLIES, first_text_ms=args.brain_ms, token_ms=args.token_ms)
                if args.stub and not args.llm else None)

    reports: list[CallReport] = []
    llm_turns: list[CallEventRecord] = []
    carrier_runs: list[CarrierRun] = []
    for _ in range(args.calls):  # alternate the paths, so drift hits both alike
        direct, turns = await direct_call(profile, speech, lines, new_brain())
        reports.append(direct)
        llm_turns += turns
        if args.carrier:
            carrier_runs.append(await carrier_call(args.carrier, profile, carrier_speech, lines,
                                                   brain=new_brain, now=pinned_clock()))
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
        "machine": machine(),
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
    if served is not None:
        assert profile.llm is not None
        result["brain"] = "llm"
        result["llm"] = {"server": f"llama-cpp-python {served.version}",
                         "model_file": served.model_file.name,
                         "filler_after_ms": profile.llm.filler_after_ms,
                         "hard_deadline_ms": profile.llm.hard_deadline_ms,
                         **llm_figures(llm_turns)}
    fixed: float | None = None
    if args.stub and args.llm:  # the brain's delays are the model's, not known in advance
        result["stub_delays_ms"] = {"stt_final": args.stt_ms, "tts_first_audio": args.tts_ms}
    elif args.stub:
        hidden = settings.endpoint_silence_ms - settings.speculative_pause_ms
        first_phrase = args.brain_ms + args.token_ms * (words_to_first_phrase(STUB_REPLIES[0]) - 1)
        fixed = max(0.0, args.stt_ms - hidden) + first_phrase + args.tts_ms
        overhead = [m.latency_ms - m.spans_ms.get("endpoint", 0.0) - fixed
                    for m in metrics if m.latency_ms]
        result["stub_delays_ms"] = {"stt_final": args.stt_ms, "brain_first_text": args.brain_ms,
                                    "brain_token": args.token_ms, "tts_first_audio": args.tts_ms}
        result["engine_overhead_ms"] = summary(overhead)
    if args.carrier:
        result.update(compare(args.carrier, reports, carrier_runs, fixed, settings.budget_ms))
    return result


def _engine_ms(report: CallReport) -> list[float]:
    return [e.latency_ms for e in report.events if isinstance(e, TurnMetrics) and e.latency_ms]


def compare(carrier: str, reports: Sequence[CallReport], runs: Sequence[CarrierRun],
            fixed: float | None, budget_ms: float) -> dict[str, Any]:
    """The carrier path's figures, and what it adds over the direct path.

    ``engine`` is the latency the engine measured itself (last caller speech it heard to
    its first frame written); ``transport`` is what the caller measured on top of that.
    Their split says whether the carrier's cost lies in the engine (e.g. endpointing on
    phone-band audio) or on the wire (codec, resampler delay, WebSocket, playback queue).
    """
    caller = [v for r in runs for v in r.caller_ms]
    engine_per_call = [[t.latency_ms for t in r.turns if t.latency_ms] for r in runs]
    engine = [v for call in engine_per_call for v in call]
    stages: dict[str, list[float]] = {}
    for r in runs:
        for t in r.turns:
            if t.latency_ms:
                for stage, ms in t.spans.items():
                    stages.setdefault(stage, []).append(ms)
    direct_caller = [v for r in reports for v in r.latencies_ms]
    direct_engine_per_call = [_engine_ms(r) for r in reports]
    path: dict[str, Any] = {
        "path": carrier,
        "calls": len(runs),
        "turns": len(caller),
        "voice_to_voice_ms": summary(caller),
        "engine_latency_ms": summary(engine),
        "stages_ms": {k: summary(v) for k, v in stages.items()},
        "transport_ms": summary(paired(engine_per_call, [r.caller_ms for r in runs])),
        "statuses": [r.status for r in runs],
        "outcomes": [r.outcome for r in runs],
        "clears": sum(r.clears for r in runs),
        "marks_echoed": sum(r.marks_echoed for r in runs),
        "hung_up_by_agent": sum(1 for r in runs if r.hung_up_by_agent),
        "over_budget_turns": sum(1 for v in caller if v > budget_ms),
    }
    if fixed is not None:
        path["engine_overhead_ms"] = summary(
            [t.latency_ms - t.spans.get("endpoint", 0.0) - fixed
             for r in runs for t in r.turns if t.latency_ms])
    direct, via = summary(direct_caller), path["voice_to_voice_ms"]
    delta = {q: round(via[q] - direct[q], 1) for q in ("p50", "p95", "max")}
    engine_direct, engine_via = summary([v for c in direct_engine_per_call for v in c]), \
        path["engine_latency_ms"]
    overhead: dict[str, Any] = {
        "voice_to_voice": delta,
        "per_turn": summary(paired([r.latencies_ms for r in reports],
                                   [r.caller_ms for r in runs])),
        "engine": {q: round(engine_via[q] - engine_direct[q], 1) for q in ("p50", "p95")},
        "direct_transport_ms": summary(paired(direct_engine_per_call,
                                              [r.latencies_ms for r in reports])),
        "target_p95_ms": CARRIER_OVERHEAD_TARGET_MS,
        "meets_target": delta["p95"] <= CARRIER_OVERHEAD_TARGET_MS,
    }
    return {"carrier": path, "carrier_overhead_ms": overhead}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stub", action="store_true", help="stub providers, fixed delays")
    parser.add_argument("--profile", help="business profile YAML (default: the example shop); "
                        "its engine section sets endpointing and the stub delays")
    parser.add_argument("--calls", type=int, default=1, help="scripted calls to run (per path)")
    parser.add_argument("--carrier", choices=["twilio", "telnyx"], default=None,
                        help="also place each call through this carrier's emulator, and "
                        "report the carrier path and its overhead over the direct path")
    parser.add_argument("--llm", action="store_true",
                        help="the LLM brain (brain: llm) on the local llama.cpp server")
    parser.add_argument("--stt-ms", type=float, default=None)
    parser.add_argument("--brain-ms", type=float, default=None)
    parser.add_argument("--token-ms", type=float, default=None)
    parser.add_argument("--tts-ms", type=float, default=None)
    result = asyncio.run(run(parser.parse_args()))
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
