"""Concurrent Twilio calls against one frontdesk process on one core; prints JSON.

    python bench/concurrency.py                          # N = 1, 25, 50, 100, 150; 60 s calls
    python bench/concurrency.py --n 1,50 --call-seconds 30
    python bench/concurrency.py --n 50 --cprofile        # + where the server's CPU goes

One ``frontdesk serve`` runs as a subprocess pinned to one core (``--server-core``), with
stub STT/TTS (fixed delays), real Silero VAD and the real G.711 codec and resamplers.
This process, pinned to another core, is the carrier: for each N it places N calls
through the Twilio emulator (signed webhook, media WebSocket, 20 ms μ-law frames in real
time, marks, clear), starts staggered over ``--stagger-seconds``, each call lasting
``--call-seconds`` before the caller hangs up. Every caller speaks a Piper voice (Silero
must hear speech), takes turns by ear, and barges in over the agent regularly.

Reported per N: server CPU seconds per call-minute (utime+stime of all its threads,
from /proc), server RSS before, at peak and after the calls (memory per call, and how
much is given back), caller-measured voice-to-voice p50/p95 on normal turns (and after a
barge-in), barge-in -> clear (from the caller's first voiced frame to the ``clear``
reaching the emulator), the engine's own latency as stored, failures, and this process's
own CPU use and event-loop lag, which say whether the callers were the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from _callers import CallResult, Plan, place
from _proc import cpu_seconds, rss_mib, thread_cores, threads
from _pyspy import PySpy, top_frames
from _server import Credentials, Server, hotspots, start_server, write_profile
from _stats import machine, summary
from frontdesk.client.caller import CallerLine
from frontdesk.client.carrier import Dial
from frontdesk.client.carrier_api import CarrierApi, CarrierApiServer
from frontdesk.profile import example_profile_text, parse_profile
from frontdesk.softphone import Script, synthesize_lines, tts_voice
from frontdesk.speech.piper import PiperTTS
from frontdesk.store import Store, open_store

NORMAL_LINES = ["Hi, what are your hours?", "Where are you located?",
                "How much is an oil change?", "I'd like to book an oil change."]
BARGE_LINE = "Sorry, wait, I have another question about that."
P95_TARGET_DELTA_MS = 50.0
CPU_TARGET_S_PER_CALL_MINUTE = 1.0
NOTES = [
    "STT is the serve stub with an empty script: every transcript is '' (confidence 0), so "
    "the receptionist re-asks ('Sorry, I didn't catch that...', every third miss the "
    "message prompt). Brain work is light; the store still writes every turn.",
    "The agent's voice is the stub TTS (a 200 Hz tone, fixed first-audio delay, "
    "tts_ms_per_char per character); the callers speak Piper audio so Silero hears speech.",
    "Voice-to-voice is measured by the caller, in this process: from its last voiced frame "
    "sent to the first agent frame its line played (20 ms ticks); client-side scheduling "
    "delay counts in it, see client.loop_lag_ms.",
    "barge_in_to_clear is measured from the first voiced frame of the barge-in line to the "
    "clear reaching the emulator: Silero onset + endpointer speech-start + both directions.",
    "server CPU counts all its threads (event loop + store worker threads), the webhook "
    "and status callbacks included; call-minutes are the calls' actual durations.",
    "failures.calls counts what the caller saw go wrong (an error, the call ended by the "
    "server, a barge-in with no clear, no turn measured); server_recorded_not_completed "
    "counts calls the caller completed but the server recorded as failed (see its log).",
    "server log level is info (uvicorn default for serve): access/connection log lines are "
    "part of the cost.",
]


@dataclass(frozen=True)
class Env:
    """What every server started by this bench shares."""

    directory: Path
    profile_path: Path
    credentials: Credentials
    api: CarrierApi
    api_base: str
    plan: Plan
    business_id: str

    async def server(self, core: int, *, profiled: bool = False) -> Server:
        return await start_server(self.directory, self.profile_path, core=core,
                                  api_base=self.api_base, credentials=self.credentials,
                                  profiled=profiled)

    async def store(self) -> Store:
        return await asyncio.to_thread(open_store,
                                       f"sqlite:///{self.directory / 'frontdesk.db'}")


@dataclass(frozen=True)
class Setup:
    server: Server
    credentials: Credentials
    api: CarrierApi
    plan: Plan
    to_number: str
    stagger_s: float
    settle_s: float


async def caller_lines(barge_after_frames: int) -> tuple[list[CallerLine], CallerLine]:
    tts = PiperTTS(steady=True)
    try:
        voice = tts_voice(tts)
        normal = await synthesize_lines(Script([("say", t) for t in NORMAL_LINES]), voice)
        [barge] = await synthesize_lines(Script([("say", BARGE_LINE)]), voice)
    finally:
        tts.close()
    return normal, CallerLine(barge.frames, barge.text, barge_in_after_frames=barge_after_frames)


class Sampler:
    """Samples the server's RSS and threads, and this loop's lag, while calls run."""

    def __init__(self, pid: int, period_s: float = 0.2) -> None:
        self.pid, self.period_s = pid, period_s
        self.peak_rss = 0.0
        self.peak_threads = 0
        self.lag_ms: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period_s
            await asyncio.sleep(self.period_s)
            self.lag_ms.append(round((loop.time() - due) * 1000, 2))
            self.peak_rss = max(self.peak_rss, rss_mib(self.pid))
            self.peak_threads = max(self.peak_threads, threads(self.pid))


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stored(store: Store, business_id: str, sids: Sequence[str]) -> dict[str, Any]:
    """What the server recorded for these calls: end states and its own turn latency."""
    business = store.for_business(business_id)
    states: dict[str, int] = {}
    engine_ms: list[float] = []
    for sid in sids:
        record = business.find_call_by_carrier_id("twilio", sid)
        key = "missing" if record is None else f"{record.status}/{record.end_reason}"
        states[key] = states.get(key, 0) + 1
        if record is not None:
            engine_ms += [t.latency_ms for t in business.list_turns(record.id) if t.latency_ms]
    return {"calls": states, "engine_latency_ms": summary(engine_ms)}


async def _spy(spy: PySpy, pid: int, setup: Setup) -> int:
    """Record the steady state: after every call has started, before the first ends."""
    await asyncio.sleep(setup.stagger_s + 3)
    return await spy.record(pid, setup.plan.call_seconds - setup.stagger_s - 6)


async def batch(n: int, setup: Setup, store: Store, business_id: str,
                spy: PySpy | None = None) -> dict[str, Any]:
    server = setup.server
    pid = server.pid
    loop = asyncio.get_running_loop()
    rss_before, cpu_before, client_before = rss_mib(pid), cpu_seconds(pid), _client_cpu()
    log_before = server.log_counts()
    sampler = Sampler(pid)
    sampler.peak_rss = rss_before
    began = loop.time()
    results: list[asyncio.Task[CallResult]] = []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http, \
            asyncio.TaskGroup() as tg:
        watch = tg.create_task(sampler.run())
        spying = tg.create_task(_spy(spy, pid, setup)) if spy is not None else None
        for i in range(n):
            dial = Dial(server_url=server.base_url, public_url=server.base_url,
                        to_number=setup.to_number, from_number=f"+1512555{i:04d}")
            results.append(tg.create_task(place(
                dial, setup.credentials.account_sid, setup.credentials.auth_token,
                setup.api, setup.plan, delay_s=i * setup.stagger_s / n, http=http)))
        await asyncio.wait(results)
        if spying is not None:
            await spying
        wall = loop.time() - began
        cpu_calls, client_cpu = cpu_seconds(pid) - cpu_before, _client_cpu() - client_before
        await asyncio.sleep(setup.settle_s)  # the server finishes writing; memory settles
        watch.cancel()
    calls = [t.result() for t in results]
    cpu_total = cpu_seconds(pid) - cpu_before
    rss_after = rss_mib(pid)
    stored = await asyncio.to_thread(_stored, store, business_id, [c.call_sid for c in calls])
    call_minutes = sum(c.duration_s for c in calls) / 60
    failed = [c for c in calls if c.failed]
    errors: dict[str, int] = {}
    for c in calls:
        if c.error is not None:
            errors[c.error[:160]] = errors.get(c.error[:160], 0) + 1
    normal = [v for c in calls for v in c.normal_ms]
    lag = summary(sampler.lag_ms)
    client_util = round(client_cpu / wall, 3)
    out: dict[str, Any] = {
        "n": n,
        "wall_seconds": round(wall, 1),
        "call_minutes": round(call_minutes, 2),
        "server": {
            "cpu_seconds": round(cpu_total, 2),
            "cpu_s_per_call_minute": round(cpu_total / call_minutes, 3) if call_minutes else None,
            "core_utilization_during_calls": round(cpu_calls / wall, 3),
            "saturated": cpu_calls / wall > 0.9,
            "rss_mib": {"before": rss_before, "peak": sampler.peak_rss, "after": rss_after},
            "mem_per_call_mib": round((sampler.peak_rss - rss_before) / n, 2),
            "not_released_mib": round(rss_after - rss_before, 1),
            "threads_peak": sampler.peak_threads,
            "log_lines": {k: v - log_before[k] for k, v in server.log_counts().items()},
        },
        "voice_to_voice_ms": summary(normal),
        "voice_to_voice_after_barge_in_ms": summary([v for c in calls for v in c.after_barge_ms]),
        "barge_in_to_clear_ms": summary([v for c in calls for v in c.barge_to_clear_ms]),
        "barge_ins": sum(c.barge_ins for c in calls),
        "clears": sum(c.clears for c in calls),
        "over_1000ms_turns": sum(1 for v in normal if v > 1000),
        "failures": {
            "calls": len(failed),
            "errors": errors,
            "ended_by_agent": sum(1 for c in calls if c.ended_by == "agent"),
            "barge_ins_without_clear": sum(c.barge_ins_without_clear for c in calls),
            "no_turn_measured": sum(1 for c in calls if not c.normal_ms and c.error is None),
            # the caller's call ran its course, but the server's record says otherwise
            "server_recorded_not_completed": sum(
                v for k, v in stored["calls"].items() if not k.startswith("completed/")),
        },
        "server_recorded": stored,
        "client": {
            "cpu_seconds": round(client_cpu, 2),
            "core_utilization": client_util,
            "loop_lag_ms": lag,
            "bottleneck": client_util > 0.9 or lag["p95"] > 10.0,
        },
    }
    if spy is not None and spy.out.exists():
        out["server_py_spy"] = {"exit_code": spying.result() if spying else None,
                                **top_frames(spy.out, 30)}
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    profile = parse_profile(example_profile_text(), "<example>")
    normal, barge = await caller_lines(args.barge_after_frames)
    plan = Plan.cycle(normal, barge, every=args.barge_every, call_seconds=args.call_seconds)
    credentials = Credentials("AC" + secrets.token_hex(16), secrets.token_hex(16))
    result: dict[str, Any] = {
        "bench": "concurrency",
        "machine": machine(),
        "config": {"n": args.n, "call_seconds": args.call_seconds,
                   "stagger_seconds": args.stagger_seconds, "settle_seconds": args.settle_seconds,
                   "server_core": args.server_core, "client_core": args.client_core,
                   "stub_delays_ms": {"stt_final": args.stt_ms, "tts_first_audio": args.tts_ms,
                                      "tts_ms_per_char": args.tts_ms_per_char},
                   "providers": {"stt": "stub", "tts": "stub", "vad": "silero"},
                   "barge_in_every": args.barge_every,
                   "barge_in_after_agent_frames": args.barge_after_frames,
                   "client_loop": "uvloop" if args.uvloop else "asyncio"},
        "notes": NOTES,
    }
    async with CarrierApiServer(twilio_account_sid=credentials.account_sid,
                                twilio_auth_token=credentials.auth_token,
                                telnyx_api_key="KEY" + secrets.token_hex(16)) as fake:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            profile_path = write_profile(directory, stt_ms=args.stt_ms, tts_ms=args.tts_ms,
                                         tts_ms_per_char=args.tts_ms_per_char)
            env = Env(directory, profile_path, credentials, fake.api, fake.base_url, plan,
                      profile.business.id)
            try:
                if args.n:
                    result.update(await _runs(args, env))
                if args.cprofile:
                    result["server_profile"] = await _profiled(args, env)
            finally:
                if args.keep_logs:
                    await asyncio.to_thread(_copy_logs, directory, args.keep_logs)
    return result


async def _runs(args: argparse.Namespace, env: Env) -> dict[str, Any]:
    server = await env.server(args.server_core)
    out: dict[str, Any] = {}
    try:
        setup = Setup(server, env.credentials, env.api, env.plan, "+15125550100",
                      args.stagger_seconds, args.settle_seconds)
        print(f"server pid {server.pid}", file=sys.stderr, flush=True)
        out["server"] = {"pid": server.pid, "cores": thread_cores(server.pid),
                         "rss_at_start_mib": rss_mib(server.pid)}
        idle_before = cpu_seconds(server.pid)
        await asyncio.sleep(2.0)
        out["server"]["idle_cpu_s_per_s"] = round((cpu_seconds(server.pid) - idle_before) / 2, 3)
        store = await env.store()
        runs = []
        try:
            for n in args.n:
                spy = (PySpy(args.py_spy, args.client_core, env.directory / f"spy-{n}.txt")
                       if args.py_spy and n == args.py_spy_n else None)
                runs.append(await batch(n, setup, store, env.business_id, spy))
                print(f"N={n}: {json.dumps(_brief(runs[-1]))}", file=sys.stderr, flush=True)
        finally:
            store.close()
        out["server"]["cores_at_end"] = thread_cores(server.pid)
        out["runs"] = runs
        out["targets"] = _targets(runs)
    finally:
        out.setdefault("server", {})["exit_code"] = await server.stop()
    return out


async def _profiled(args: argparse.Namespace, env: Env) -> dict[str, Any]:
    """One batch of ``--cprofile-n`` calls against a server running under cProfile."""
    server = await env.server(args.server_core, profiled=True)
    try:
        setup = Setup(server, env.credentials, env.api, env.plan, "+15125550100",
                      args.stagger_seconds, 1.0)
        store = await env.store()
        try:
            server.signal(signal.SIGUSR1)
            measured = await batch(args.cprofile_n, setup, store, env.business_id)
            server.signal(signal.SIGUSR2)
            await asyncio.sleep(2.0)  # the stats are written by the signal handler
        finally:
            store.close()
    finally:
        await server.stop()
    assert server.profile_out is not None
    return {"n": args.cprofile_n, "note": "cProfile (thread CPU time) of the event-loop "
            "thread during the batch only; profiling slows the server, so its latency and "
            "CPU figures here are not comparable with the runs above",
            "batch": _brief(measured), **hotspots(server.profile_out, args.top)}


def _copy_logs(directory: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for log in directory.glob("*.log"):
        shutil.copy(log, into / log.name)


def _brief(run: dict[str, Any]) -> dict[str, Any]:
    return {"cpu_s_per_call_minute": run["server"]["cpu_s_per_call_minute"],
            "server_util": run["server"]["core_utilization_during_calls"],
            "v2v_p50": run["voice_to_voice_ms"]["p50"], "v2v_p95": run["voice_to_voice_ms"]["p95"],
            "clear_p95": run["barge_in_to_clear_ms"]["p95"],
            "engine_p95": run["server_recorded"]["engine_latency_ms"]["p95"],
            "failures": run["failures"]["calls"], "client_util": run["client"]["core_utilization"]}


def _targets(runs: list[dict[str, Any]]) -> dict[str, Any]:
    single = next((r for r in runs if r["n"] == 1), None)
    base = single["voice_to_voice_ms"]["p95"] if single else None
    engine_base = single["server_recorded"]["engine_latency_ms"]["p95"] if single else None
    per_n: dict[str, dict[str, Any]] = {}
    carried = []
    for r in runs:
        p95 = r["voice_to_voice_ms"]["p95"]
        key = str(r["n"]) if str(r["n"]) not in per_n else f"{r['n']} (again)"
        per_n[key] = {
            "p95_minus_single_ms": round(p95 - base, 1) if base is not None else None,
            "p95_within_50ms": base is not None and p95 - base <= P95_TARGET_DELTA_MS,
            # the server's own view, free of any delay on the callers' side
            "engine_p95_minus_single_ms": None if engine_base is None else round(
                r["server_recorded"]["engine_latency_ms"]["p95"] - engine_base, 1),
            "cpu_within_1s_per_call_minute":
                (r["server"]["cpu_s_per_call_minute"] or 0) <= CPU_TARGET_S_PER_CALL_MINUTE,
            "no_failures": r["failures"]["calls"] == 0,
            "server_recorded_not_completed": r["failures"]["server_recorded_not_completed"],
        }
        if per_n[key]["p95_within_50ms"] and per_n[key]["no_failures"]:
            carried.append(r["n"])
    return {"single_call_p95_ms": base, "per_n": per_n,
            "largest_n_within_targets": max(carried) if carried else None,
            "one_core_carries_100": any(n >= 100 for n in carried)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=lambda s: [int(x) for x in s.split(",") if x],
                        default=[1, 25, 50, 100, 150],
                        help="comma-separated call counts (default 1,25,50,100,150; '' for none)")
    parser.add_argument("--call-seconds", type=float, default=60.0)
    parser.add_argument("--stagger-seconds", type=float, default=2.0)
    parser.add_argument("--settle-seconds", type=float, default=5.0,
                        help="wait after the calls before reading 'after' memory")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--stt-ms", type=int, default=100)
    parser.add_argument("--tts-ms", type=int, default=80)
    parser.add_argument("--tts-ms-per-char", type=float, default=60.0)
    parser.add_argument("--barge-every", type=int, default=3,
                        help="normal lines between barge-ins (one comes early in every call)")
    parser.add_argument("--barge-after-frames", type=int, default=25,
                        help="agent frames heard before the caller talks over it")
    parser.add_argument("--cprofile", action="store_true",
                        help="also profile the server (cProfile) through one batch")
    parser.add_argument("--cprofile-n", type=int, default=50)
    parser.add_argument("--py-spy", type=Path, default=None,
                        help="path of a py-spy binary: sample the server during one batch")
    parser.add_argument("--py-spy-n", type=int, default=50, help="the batch to sample")
    parser.add_argument("--top", type=int, default=25, help="hotspots to list")
    parser.add_argument("--keep-logs", type=Path, default=None,
                        help="copy the server logs into this directory")
    parser.add_argument("--no-uvloop", dest="uvloop", action="store_false",
                        help="run the callers on the stock asyncio loop")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.client_core})  # before any thread exists: all inherit it
    if args.uvloop:
        import uvloop

        result = uvloop.run(run(args))
    else:
        result = asyncio.run(run(args))
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
