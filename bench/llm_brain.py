"""Turn latency of the LLM brain against the local llama.cpp server; prints JSON.

    python bench/llm_brain.py            # 5 calls x 4 caller turns
    python bench/llm_brain.py --calls 10 --threads 2

Each caller turn goes through frontdesk's own path: the OpenAI-compatible client, the
tools (a real booking desk on a throwaway SQLite store), the never-lie guard and the
budget, with the profile's default deadlines (filler at 800 ms, the receptionist
answers past 4000 ms). Measured from the turn's start (the transcript in hand) to the
first text the Call could speak (``first_text_ms``: the filler counts, it is what the
caller hears), to the first words that are not the filler (``first_answer_ms``), and to
the end of the turn; plus the share of turns where the filler or a fallback engaged.
The model (Gemma 3 270M, a base model) is fast and poor: the figures measure the
pipeline, not a receptionist's quality. Speech (STT, TTS) is not in these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from _stats import machine, percentile
from frontdesk.actions.booking import BookingDesk
from frontdesk.brain.base import CallerTurn, Text
from frontdesk.brain.llm.brain import LLMBrain, LLMBrainConfig
from frontdesk.brain.llm.openai import OpenAIConfig, OpenAIProvider
from frontdesk.brain.llm.tools import CallScope, Tools
from frontdesk.brain.receptionist import Receptionist
from frontdesk.profile import example_profile_text, parse_profile
from frontdesk.profile.llm import LlmSettings
from frontdesk.store import open_store
from llm_llama_ttft import llama_server

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
CALLER = "+15125551234"
TURNS = ("Hi, I'd like to book an oil change tomorrow at 10 AM.", "My name is Ann Lee.",
         "Are you open on Saturday?", "How much is a tire rotation?")


async def bench(calls: int, threads: int | None) -> dict[str, Any]:
    profile = parse_profile(example_profile_text(), "<example>")
    defaults = LlmSettings.model_fields
    filler_s = float(defaults["filler_after_ms"].default) / 1000
    deadline_s = float(defaults["hard_deadline_ms"].default) / 1000
    first_text: list[float] = []
    first_answer: list[float] = []
    totals: list[float] = []
    fillers = violations = 0
    fallbacks: dict[str, int] = {}
    model = ""
    with tempfile.TemporaryDirectory(prefix="frontdesk-llm-bench-") as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'frontdesk.db'}")
        business = store.for_business(profile.business.id)
        async with llama_server(threads) as served:
            provider = OpenAIProvider(OpenAIConfig(base_url=served.base_url,
                                                   model="gemma-3-270m-q4_k_m",
                                                   read_timeout=60.0))
            for index in range(calls + 1):  # call 0 warms the server's prompt cache
                record = business.create_call(CALLER, profile.business.phone_numbers[0],
                                              started_at=NOW)
                desk = BookingDesk(profile, business, clock=lambda: NOW)
                fallback = Receptionist(profile, business, call_id=record.id,
                                        caller_number=CALLER, now=lambda: NOW, desk=desk)
                tools = Tools(CallScope(profile, business, desk, record.id, record.id,
                                        CALLER, lambda: NOW))
                brain = LLMBrain(LLMBrainConfig(provider, tools, fallback,
                                                filler_after_s=filler_s,
                                                hard_deadline_s=deadline_s))
                samples = []
                for said in TURNS:
                    started = time.perf_counter()
                    texts: list[tuple[float, str]] = []
                    async for item in brain.respond(CallerTurn(said, 0.95)):
                        if isinstance(item, Text) and item.text.strip():
                            texts.append((time.perf_counter() - started, item.text))
                    ended = time.perf_counter() - started
                    brain.heard("".join(t for _, t in texts), False)
                    samples.append((texts, ended))
                if index == 0:
                    continue  # the warm-up call is not counted
                for (texts, ended), stats in zip(samples, brain.stats, strict=True):
                    answers = [at for at, t in texts if t != brain.config.filler]
                    if texts:
                        first_text.append(texts[0][0] * 1000)
                    if answers:
                        first_answer.append(answers[0] * 1000)
                    totals.append(ended * 1000)
                    fillers += stats.filler
                    violations += len(stats.violations)
                    key = stats.fallback or "none"
                    fallbacks[key] = fallbacks.get(key, 0) + 1
                    model = stats.model or model
            await provider.aclose()
        store.close()
    n = len(totals)
    return {
        "model": model or "(no turn answered by the model)",
        "server": f"llama-cpp-python {served.version}",
        "turns": n, "deadlines_ms": {"filler": filler_s * 1000, "hard": deadline_s * 1000},
        "first_text_ms": {"p50": percentile(first_text, 0.5),
                          "p95": percentile(first_text, 0.95)},
        "first_answer_ms": {"p50": percentile(first_answer, 0.5),
                            "p95": percentile(first_answer, 0.95)},
        "turn_total_ms": {"p50": percentile(totals, 0.5), "p95": percentile(totals, 0.95)},
        "filler_share": round(fillers / n, 3) if n else None,
        "fallback_share": {k: round(v / n, 3) for k, v in sorted(fallbacks.items())},
        "guard_violations": violations,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=5, help="calls of 4 turns (default 5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="llama.cpp threads (default: the server's, half the cores)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bench(args.calls, args.threads)), indent=2))


if __name__ == "__main__":
    main()
