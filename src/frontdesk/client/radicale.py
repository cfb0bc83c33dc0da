"""A real Radicale CalDAV server in a subprocess, for tests and benchmarks.

Radicale runs as ``python -m radicale`` with a generated configuration in a temporary
directory: filesystem storage there, one htpasswd user (plain text: the password is
minted per run and never leaves the machine), ``owner_only`` rights so the user owns
``/<user>/...``, no web UI, warnings only, logged to a file whose tail goes into any
start-up error. The failed-login and 5xx delays Radicale adds by default (1 s each, a
brute-force brake) are off, so a wrong-password test is as fast as any other. Our HTTP
clients here ignore proxy settings: the server is on loopback.

Readiness is polled, not slept on: an HTTP probe every 50 ms up to a deadline, failing
early if the process dies. The port is picked free and handed to Radicale, which cannot
take a pre-bound socket; if another process wins the port in between, Radicale exits
and the start is retried on a new one.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

import httpx

from frontdesk.actions.connectors.caldav import CalDAVSettings

__all__ = ["RadicaleError", "RadicaleServer"]

_POLL_S = 0.05
_PORT_ATTEMPTS = 3


class RadicaleError(RuntimeError):
    """Radicale did not start, or refused to create a calendar."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RadicaleServer:
    """``async with RadicaleServer() as radicale:`` (or ``with``, or ``start()``/``stop()``)
    runs one server with one user and one calendar, ``calendar_url``; ``new_calendar()``
    makes more (a fresh calendar per test keeps tests independent on one server)."""

    def __init__(
        self,
        *,
        username: str = "frontdesk",
        password: str | None = None,
        max_connections: int = 16,
        startup_timeout: float = 20.0,
    ) -> None:
        self.username = username
        self.password = password or secrets.token_urlsafe(16)
        self.max_connections = max_connections
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self.calendar_url = ""
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the server and create ``calendar_url``; blocks until both are done."""
        try:
            for _ in range(_PORT_ATTEMPTS):
                log, deadline = self._spawn()
                while self._alive(log, deadline):
                    if self._answers():
                        self.calendar_url = self.new_calendar("calendar")
                        return
                    time.sleep(_POLL_S)
            raise RadicaleError(f"no free port after {_PORT_ATTEMPTS} attempts")
        except BaseException:
            self.stop()
            raise

    async def astart(self) -> None:
        """As :meth:`start`, without blocking the event loop while Radicale boots."""
        try:
            for _ in range(_PORT_ATTEMPTS):
                log, deadline = self._spawn()
                async with httpx.AsyncClient(timeout=1.0, trust_env=False) as client:
                    while self._alive(log, deadline):
                        try:
                            await client.get(self.base_url)
                        except httpx.TransportError:
                            await asyncio.sleep(_POLL_S)
                            continue
                        self.calendar_url = await self.anew_calendar("calendar")
                        return
            raise RadicaleError(f"no free port after {_PORT_ATTEMPTS} attempts")
        except BaseException:
            self.stop()  # synchronous on purpose: cancellation must not orphan the process
            raise

    def stop(self) -> None:
        """Terminate (SIGTERM lets Radicale close cleanly), kill after 5 s, remove files."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> RadicaleServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> RadicaleServer:
        await self.astart()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.astop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # --- calendars ---------------------------------------------------------------------

    def new_calendar(self, name: str | None = None) -> str:
        """MKCALENDAR ``/<user>/<name>/`` (a fresh random name by default); its URL."""
        url = self._calendar_url(name)
        auth = (self.username, self.password)
        with httpx.Client(auth=auth, timeout=10.0, trust_env=False) as client:
            return self._made(url, client.request("MKCALENDAR", url))

    async def anew_calendar(self, name: str | None = None) -> str:
        url = self._calendar_url(name)
        auth = (self.username, self.password)
        async with httpx.AsyncClient(auth=auth, timeout=10.0, trust_env=False) as client:
            return self._made(url, await client.request("MKCALENDAR", url))

    def settings(self, calendar_url: str | None = None) -> CalDAVSettings:
        return CalDAVSettings(
            url=calendar_url or self.calendar_url, username=self.username, password=self.password
        )

    # --- internals ---------------------------------------------------------------------

    def _calendar_url(self, name: str | None) -> str:
        if not self.base_url:
            raise RadicaleError("not started")
        return f"{self.base_url}{self.username}/{name or uuid.uuid4().hex}/"

    @staticmethod
    def _made(url: str, response: httpx.Response) -> str:
        if response.status_code != 201:
            raise RadicaleError(f"MKCALENDAR {url}: HTTP {response.status_code} {response.text}")
        return url

    def _spawn(self) -> tuple[Path, float]:
        """Write the configuration for a fresh free port and start Radicale on it; the
        log path and the deadline for it to answer."""
        if self._process is not None:
            raise RadicaleError("already running")
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="frontdesk-radicale-")
            users = Path(self._dir.name) / "users"
            users.write_text(f"{self.username}:{self.password}\n", encoding="utf-8")
        root = Path(self._dir.name)
        port = _free_port()
        config = root / "config"
        config.write_text(self._config(root, port), encoding="utf-8")
        log = root / "radicale.log"
        with log.open("wb") as sink:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.base_url = f"http://127.0.0.1:{port}/"
        return log, time.monotonic() + self.startup_timeout

    def _alive(self, log: Path, deadline: float) -> bool:
        """Whether to keep polling: False if Radicale exited because it lost its port
        (the caller retries on another); raises if it died otherwise or is too slow."""
        assert self._process is not None
        if self._process.poll() is not None:
            self._process = None
            if b"cannot create server socket" in log.read_bytes():
                return False
            raise RadicaleError(self._failure("exited", log))
        if time.monotonic() > deadline:
            raise RadicaleError(self._failure(f"no answer after {self.startup_timeout}s", log))
        return True

    def _answers(self) -> bool:
        try:
            httpx.get(self.base_url, timeout=1.0, trust_env=False)
        except httpx.TransportError:
            return False
        return True

    def _failure(self, what: str, log: Path) -> str:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        return f"Radicale at {self.base_url} {what}; log tail:\n{tail}"

    def _config(self, root: Path, port: int) -> str:
        return f"""\
[server]
hosts = 127.0.0.1:{port}
max_connections = {self.max_connections}
delay_on_error = 0

[auth]
type = htpasswd
htpasswd_filename = {root / "users"}
htpasswd_encryption = plain
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {root / "collections"}

[web]
type = none

[logging]
level = warning
"""
