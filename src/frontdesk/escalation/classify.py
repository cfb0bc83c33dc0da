"""A light offline classifier for caller turns: the net under the hard rules.

Multinomial logistic regression over word unigrams and bigrams, trained once per process
from the seed examples shipped beside this module (``seeds.tsv``), never from the test
corpus. Training is full-batch gradient descent from zero weights with a fixed number of
steps, so it is deterministic: the same seeds give the same scores on every machine, and
no model file has to be downloaded or kept in sync with the code.

The classifier only speaks for the built-in text categories (not ``out_of_scope``, which
is the profile's own list of topics, nor ``misunderstanding``, which the engine counts)
and ``none``. L2 regularisation keeps its probabilities modest: an utterance unlike any
seed leans to ``none`` rather than to a confident guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import numpy.typing as npt

__all__ = ["LABELS", "Seed", "load_seeds", "scores"]

# the labels the seeds may carry, in a fixed order (the column order of the model)
LABELS: tuple[str, ...] = ("emergency", "threat", "self_harm", "legal", "abuse", "dispute",
                           "refund", "human", "none")

_STEPS = 1500
_RATE = 0.5
_L2 = 0.001
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")
_FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "mm"})


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
class _Model:
    vocabulary: dict[str, int]
    weights: npt.NDArray[np.float64]  # (features + 1 bias) x labels

    def probabilities(self, text: str) -> npt.NDArray[np.float64]:
        # the features are binary: the logits are the bias plus the rows of those present
        rows = {self.vocabulary[f] for f in _features(text) if f in self.vocabulary}
        logits = self.weights[-1] + self.weights[sorted(rows)].sum(axis=0)
        return _softmax(logits)


def _softmax(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    out: npt.NDArray[np.float64] = e / e.sum(axis=-1, keepdims=True)
    return out


def train(seeds: list[Seed]) -> _Model:
    """Fit the model; deterministic (zero start, full batch, fixed steps)."""
    vocabulary: dict[str, int] = {}
    for seed in seeds:
        for feature in _features(seed.text):
            vocabulary.setdefault(feature, len(vocabulary))
    x = np.zeros((len(seeds), len(vocabulary) + 1))
    x[:, -1] = 1.0
    y = np.zeros((len(seeds), len(LABELS)))
    for row, seed in enumerate(seeds):
        for feature in _features(seed.text):
            x[row, vocabulary[feature]] = 1.0
        y[row, LABELS.index(seed.label)] = 1.0
    weights = np.zeros((x.shape[1], len(LABELS)))
    for _ in range(_STEPS):
        gradient = x.T @ (_softmax(x @ weights) - y) / len(seeds) + _L2 * weights
        weights -= _RATE * gradient
    return _Model(vocabulary, weights)


@lru_cache(maxsize=1)
def _model() -> _Model:
    """Trained on first use (about a second); call :func:`scores` once at start-up to warm."""
    return train(load_seeds())


def scores(text: str) -> dict[str, float]:
    """The probability of each label in :data:`LABELS` (they sum to 1)."""
    probabilities = _model().probabilities(text)
    return {label: float(p) for label, p in zip(LABELS, probabilities, strict=True)}
