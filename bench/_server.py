"""``frontdesk serve`` as a separate process for the load benchmark.

The server runs exactly as deployed (the ``frontdesk`` console script, uvicorn with its
default loop) with Twilio configured against the bench's fake REST API, a fresh SQLite
file, and a profile whose providers are stub STT/TTS with fixed delays and real Silero
VAD. ``taskset`` pins it to one core before its first instruction, so every thread it
ever starts (the store's worker threads included) stays on that core.

For a profile of where its CPU goes, the same command runs under cProfile; profiling is
switched on by SIGUSR1 and off (stats written) by SIGUSR2, so start-up and shutdown stay
out of the picture. cProfile sees the event-loop thread only, not the worker threads.
"""

from __future__ import annotations

import asyncio
import os
import pstats
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import yaml

from frontdesk.profile import example_profile_text

PROFILED_SERVE = """
import cProfile, os, signal, time
from frontdesk.cli import main
profiler = cProfile.Profile(time.thread_time)  # CPU time of the loop thread, not wall
def start(*_):
    profiler.enable()
def stop(*_):
    profiler.disable()
    profiler.dump_stats(os.environ["FDBENCH_PROFILE_OUT"])
signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
main()
"""


@dataclass(frozen=True)
class Credentials:
    account_sid: str
    auth_token: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_profile(directory: Path, *, stt_ms: int, tts_ms: int, tts_ms_per_char: float) -> Path:
    """The example auto shop with stub STT/TTS (fixed delays) and real Silero VAD."""
    document: dict[str, Any] = yaml.safe_load(example_profile_text())
    engine = document.setdefault("engine", {})
    engine["providers"] = {"stt": "stub", "tts": "stub", "vad": "silero"}
    engine["stub"] = {**engine.get("stub", {}), "stt_final_ms": stt_ms,
                      "tts_first_audio_ms": tts_ms, "tts_ms_per_char": tts_ms_per_char}
    path = directory / "profile.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@dataclass
class Server:
    process: asyncio.subprocess.Process
    base_url: str
    log_path: Path
    profile_out: Path | None

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_counts(self) -> dict[str, int]:
        text = self.log_path.read_text(errors="replace")
        return {"warnings": text.count("WARNING"), "errors": text.count("ERROR"),
                "tracebacks": text.count("Traceback")}

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def stop(self) -> int | None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode


async def start_server(directory: Path, profile: Path, *, core: int, api_base: str,
                       credentials: Credentials, profiled: bool = False) -> Server:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELNYX_", "TWILIO_", "FRONTDESK_"))}
    env.update(TWILIO_ACCOUNT_SID=credentials.account_sid,
               TWILIO_AUTH_TOKEN=credentials.auth_token, TWILIO_API_BASE=api_base,
               FRONTDESK_PUBLIC_URL=base_url,
               FRONTDESK_DATABASE_URL=f"sqlite:///{directory / 'frontdesk.db'}")
    args = ["serve", "--profile", str(profile), "--host", "127.0.0.1", "--port", str(port)]
    profile_out = None
    if profiled:
        profile_out = directory / "serve.prof"
        env["FDBENCH_PROFILE_OUT"] = str(profile_out)
        command = [sys.executable, "-c", PROFILED_SERVE, *args]
    else:
        command = [str(Path(sys.executable).parent / "frontdesk"), *args]
    log_path = directory / ("serve-profiled.log" if profiled else "serve.log")
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            "taskset", "-c", str(core), *command, env=env, stdout=log, stderr=log)
    server = Server(process, base_url, log_path, profile_out)
    await _wait_ready(server)
    return server


async def _wait_ready(server: Server, timeout_s: float = 60.0) -> None:
    async with httpx.AsyncClient() as http, asyncio.timeout(timeout_s):
        while True:
            if server.process.returncode is not None:
                raise RuntimeError(f"frontdesk serve exited ({server.process.returncode}); "
                                   f"see {server.log_path}")
            try:
                if (await http.get(server.base_url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


def hotspots(path: Path, top: int) -> dict[str, Any]:
    """The profile's top functions by own time and by cumulative time (cumulative time
    of coroutines counts each resumption, so it reads as "time spent under", not wall)."""
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = cast(
        Any, pstats.Stats(str(path))).stats
    total = sum(entry[2] for entry in raw.values()) or 1.0

    def row(key: tuple[str, int, str]) -> dict[str, Any]:
        _, calls, own, cum, _ = raw[key]
        file_name, line, name = key
        where = file_name.split("site-packages/")[-1].split("/src/")[-1]
        return {"function": f"{where}:{line}({name})", "calls": calls,
                "own_s": round(own, 2), "own_pct": round(100 * own / total, 1),
                "cum_s": round(cum, 2), "cum_pct": round(100 * cum / total, 1)}

    by_own = sorted(raw, key=lambda k: raw[k][2], reverse=True)
    by_cum = sorted(raw, key=lambda k: raw[k][3], reverse=True)
    return {"profiled_cpu_seconds": round(total, 1),
            "by_own_time": [row(k) for k in by_own[:top]],
            "by_cumulative_time": [row(k) for k in by_cum[:top]]}
