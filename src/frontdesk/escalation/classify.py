"""A light offline classifier for caller turns: the net under the hard rules.

Multinomial logistic regression over two kinds of features of an utterance: its word
unigrams and bigrams (binary), and its sentence embedding (``embed.py``: all-MiniLM-L6-v2,
which places "my attorney will be in touch" near "I'll sue you" though they share no
word). It is trained once per process from the seed examples shipped beside this module
(``seeds.tsv``), never from the test corpora. Training is full-batch gradient descent
from zero weights with a fixed number of steps, so it is deterministic: the same seeds
give the same scores, and no model file has to be kept in sync with the code. The
trained weights are cached on disk (``FRONTDESK_CACHE_DIR``, default
``~/.cache/frontdesk``) under a hash of everything they depend on, so a second process
(``frontdesk policy check``, a worker) starts in a fraction of a second.

The classifier only speaks for the built-in text categories (not ``out_of_scope``, which
is the profile's own list of topics, nor ``misunderstanding``, which the engine counts)
and ``none``. L2 regularisation keeps its probabilities modest: an utterance unlike any
seed leans to ``none`` rather than to a confident guess. Without the embedding model
installed it uses the word features alone (and says so in the log).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from frontdesk.escalation import embed

__all__ = ["LABELS", "Model", "Seed", "load_seeds", "scores", "train", "warm"]

log = logging.getLogger(__name__)

# the labels the seeds may carry, in a fixed order (the column order of the model)
LABELS: tuple[str, ...] = ("emergency", "threat", "self_harm", "legal", "abuse", "dispute",
                           "refund", "human", "none")

_STEPS = 1500
_RATE = 0.5
_L2 = 0.001
_EMBEDDING_SCALE = 5.0  # unit vectors, scaled to weigh like a few word features
_FORMAT = 2  # bump when the features or the training change: old caches are ignored
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")
_FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "mm"})

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Seed:
    label: str
    text: str


def _features(text: str) -> list[str]:
    """Unigrams and bigrams of the normalised words (apostrophes dropped, fillers out,
    ``-ing`` folded to ``-in``)."""
    words = [w.replace("'", "") for w in _WORD.findall(text.lower().replace("\u2019", "'"))]
    # "comin" and "coming" are one word: STT writes the dropped g as said
    words = [w[:-1] if w.endswith("ing") else w for w in words if w not in _FILLERS]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def parse_seeds(text: str) -> list[Seed]:
    """``label<TAB>text`` lines; ``#`` comments and blank lines are skipped."""
    seeds: list[Seed] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, utterance = line.partition("\t")
        if not sep or label not in LABELS or not utterance.strip():
            raise ValueError(f"seeds.tsv line {number}: expected 'label<TAB>text', "
                             f"label one of {', '.join(LABELS)}")
        seeds.append(Seed(label, utterance.strip()))
    return seeds


def load_seeds() -> list[Seed]:
    """The seed examples shipped as package data."""
    text = resources.files("frontdesk.escalation").joinpath("seeds.tsv").read_text("utf-8")
    return parse_seeds(text)


@dataclass(frozen=True)
class Model:
    vocabulary: dict[str, int]
    words: Floats  # vocabulary x labels
    embedded: Floats | None  # embedding dimensions x labels; None: word features only
    bias: Floats  # labels

    def probabilities(self, text: str) -> Floats:
        row: Floats = self.batch([text])[0]
        return row

    def batch(self, texts: Sequence[str]) -> Floats:
        logits = np.tile(self.bias, (len(texts), 1))
        for row, text in enumerate(texts):
            # the word features are binary: add the rows of those present
            present = sorted({self.vocabulary[f] for f in _features(text)
                              if f in self.vocabulary})
            logits[row] += self.words[present].sum(axis=0)
        vectors = _embeddings(texts) if self.embedded is not None else None
        if vectors is not None and self.embedded is not None:
            logits += vectors @ self.embedded
        return _softmax(logits)


def _softmax(z: Floats) -> Floats:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    out: Floats = e / e.sum(axis=-1, keepdims=True)
    return out


def _embeddings(texts: Sequence[str]) -> Floats | None:
    encoder = embed.encoder()
    if encoder is None:
        return None
    return encoder.encode(list(texts)).astype(np.float64) * _EMBEDDING_SCALE


def train(seeds: Sequence[Seed], *, embeddings: bool = True) -> Model:
    """Fit the model; deterministic (zero start, full batch, fixed steps). The word
    features are kept sparse: each step gathers and scatters only the present ones."""
    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    columns: list[int] = []
    for row, seed in enumerate(seeds):
        for feature in sorted(set(_features(seed.text))):
            rows.append(row)
            columns.append(vocabulary.setdefault(feature, len(vocabulary)))
    row_of, column_of = np.array(rows, dtype=np.intp), np.array(columns, dtype=np.intp)
    n, labels = len(seeds), len(LABELS)
    y = np.zeros((n, labels))
    y[np.arange(n), [LABELS.index(s.label) for s in seeds]] = 1.0
    vectors = _embeddings([s.text for s in seeds]) if embeddings else None
    words = np.zeros((len(vocabulary), labels))
    embedded = None if vectors is None else np.zeros((vectors.shape[1], labels))
    bias = np.zeros(labels)
    for _ in range(_STEPS):
        logits = np.tile(bias, (n, 1)) + _sum_by(row_of, words[column_of], n)
        if vectors is not None and embedded is not None:
            logits += vectors @ embedded
        error = (_softmax(logits) - y) / n
        gradient = _sum_by(column_of, error[row_of], len(vocabulary))
        words -= _RATE * (gradient + _L2 * words)
        if vectors is not None and embedded is not None:
            embedded -= _RATE * (vectors.T @ error + _L2 * embedded)
        bias -= _RATE * (error.sum(axis=0) + _L2 * bias)
    return Model(vocabulary, words, embedded, bias)


def _sum_by(index: npt.NDArray[np.intp], values: Floats, size: int) -> Floats:
    """``out[i] = sum of values[k] where index[k] == i``, one label column at a time
    (``np.bincount`` is many times faster than ``np.add.at``)."""
    return np.stack([np.bincount(index, weights=values[:, j], minlength=size)
                     for j in range(values.shape[1])], axis=1)


# -- the process's model, cached on disk -------------------------------------------------

def _cache_dir() -> Path:
    configured = os.environ.get("FRONTDESK_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "frontdesk"


def _cache_key(seeds: Sequence[Seed], embeddings: bool) -> str:
    digest = hashlib.sha256(f"{_FORMAT} {_STEPS} {_RATE} {_L2} {_EMBEDDING_SCALE} "
                            f"{LABELS}".encode())
    for seed in seeds:
        digest.update(f"{seed.label}\t{seed.text}\n".encode())
    directory = embed.model_directory() if embeddings else None
    if directory is not None:  # the model files' sizes stand for their version
        for name in ("model.safetensors", "tokenizer.json"):
            digest.update(f"{name}:{(directory / name).stat().st_size}".encode())
    return digest.hexdigest()[:24]


def _load_cached(path: Path) -> Model | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            vocabulary = json.loads(str(data["vocabulary"]))
            embedded = data["embedded"] if data["embedded"].size else None
            return Model(vocabulary, data["words"], embedded, data["bias"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as error:  # a torn or foreign file: retrain
        log.warning("ignoring the classifier cache %s: %s", path, error)
        return None


def _store_cached(path: Path, model: Model) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            np.savez(f, vocabulary=np.array(json.dumps(model.vocabulary)),
                     words=model.words, bias=model.bias,
                     embedded=model.embedded if model.embedded is not None else np.zeros(0))
        os.replace(f.name, path)  # atomic: a racing process reads the old file or this one
    except OSError as error:  # a read-only home is no reason to fail a call
        log.warning("cannot cache the classifier in %s: %s", path.parent, error)


@lru_cache(maxsize=1)
def _model() -> Model:
    seeds = load_seeds()
    embeddings = embed.encoder() is not None
    path = _cache_dir() / f"escalation-{_cache_key(seeds, embeddings)}.npz"
    model = _load_cached(path)
    if model is None:
        model = train(seeds, embeddings=embeddings)
        _store_cached(path, model)
    return model


def warm() -> None:
    """Load (or train) the model now, at start-up, rather than on a caller's first turn."""
    _model()


def scores(text: str) -> dict[str, float]:
    """The probability of each label in :data:`LABELS` (they sum to 1)."""
    probabilities = _model().probabilities(text)
    return {label: float(p) for label, p in zip(LABELS, probabilities, strict=True)}
