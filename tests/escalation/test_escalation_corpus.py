"""Floors on the labelled corpus (``bench/escalation_corpus.py``) and the classifier's seeds.

The corpus was written independently of the rules. The first pass of the rules, written
before reading it, measured overall precision 0.89 and recall 0.61; the rules were then
widened with general patterns while reading its misses. So these floors guard against
regressions; they are not an estimate for unseen callers (a fresh set of 34 escalation
lines written after the rules measured precision 0.93 and recall 0.79).

``heldout_dev.tsv`` (independently written, STT-style) measured precision 0.94 and recall
0.66 before the rules were generalised by families of phrasing (dropped g, possessive
``'s``, synonyms, clause-wide negation) while reading its misses: it was used for tuning
too, so its floors below are a regression guard, not an estimate either.

``heldout_test.tsv`` (a third independent set, in plain words but unusual vocabulary:
"blaze", "litigate", "restitution") was sealed while tuning the rules and measured once
(2026-12-06): precision 0.96, recall 0.53, hard-negative FP rate 0.04; recall on
emergency 0.73, threat 0.64, legal 0.64. It was then spent on the classifier's sentence
features and threshold (``classify.py``, ``detect.py``): now precision 0.97, recall 0.83.

``heldout_blind.tsv`` (328 lines, written blind to the rules, the seeds and the other
sets) was sealed while the sentence features were built and measured once, after
(2026-12-06): precision 0.957, recall 0.940, hard-negative FP rate 0.094 (6 of 64, all
from rules); recall on emergency, threat and legal 0.97 each. That is the estimate for
unseen phrasing, with one caveat: the seeds and this set were written by the same kind of
writer, so real callers may phrase things further from both (two of its lines turned out
to be seed lines word for word and were taken out). It is spent now too.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from frontdesk.escalation import classify

BENCH = Path(__file__).resolve().parents[2] / "bench" / "escalation_corpus.py"
CORPUS = Path(__file__).resolve().parent / "corpus.tsv"
DEV = Path(__file__).resolve().parent / "heldout_dev.tsv"
SPENT = Path(__file__).resolve().parent / "heldout_test.tsv"
BLIND = Path(__file__).resolve().parent / "heldout_blind.tsv"


def _evaluate(path: Path) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("escalation_corpus", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["escalation_corpus"] = module
    spec.loader.exec_module(module)
    result: dict[str, Any] = module.evaluate(path)
    return result


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    return _evaluate(CORPUS)


@pytest.fixture(scope="module")
def dev_figures() -> dict[str, Any]:
    return _evaluate(DEV)


# The floors: never miss a threat, a legal matter or an emergency.
MUST_CATCH = {"threat": 0.95, "legal": 0.95, "emergency": 0.95}
# Measured with the sentence features: recall 1.0 everywhere except refund (0.97: one
# refund line also says "didn't fix anything", which is a dispute and dispute is checked
# first); precision 0.93 (dispute), 0.95 (emergency), 1.0 elsewhere. The floors
# leave about two lines of slack per category (support 25-46), so a small rule change
# that moves one line does not fail the suite but a real regression does.
RECALL_FLOORS = {"abuse": 0.93, "dispute": 0.94, "refund": 0.9, "human": 0.94,
                 "out_of_scope": 0.92}
PRECISION_FLOOR = 0.9


@pytest.mark.parametrize(("category", "floor"), sorted((MUST_CATCH | RECALL_FLOORS).items()))
def test_recall_floor(figures: dict[str, Any], category: str, floor: float) -> None:
    assert figures["categories"][category]["recall"] >= floor, figures["misclassified"]


@pytest.mark.parametrize("category", sorted(MUST_CATCH | RECALL_FLOORS))
def test_precision_floor(figures: dict[str, Any], category: str) -> None:
    assert figures["categories"][category]["precision"] >= PRECISION_FLOOR


def test_overall_floors(figures: dict[str, Any]) -> None:
    assert figures["overall"]["precision"] >= 0.95  # measured 0.983
    assert figures["overall"]["recall"] >= 0.95  # measured 0.997
    # measured 0.039 (4 of 103, the classifier: "we blew a fuse and the radio's dead" as
    # an emergency); 0.0 with word features alone, 0.019 before the rules were generalised
    assert figures["hard_negative_fp_rate"] <= 0.06


# heldout_dev: measured recall 1.0 everywhere except refund (0.94: "y'all didn't fix it so
# refund me" is a dispute first, by the category order); precision 0.89 (dispute: that
# line and "is there a charge for the estimate"), 1.0 elsewhere. Dev was used for tuning,
# so these floors sit a little below what it reached (support 12-22 per category: the
# slack is one or two lines; one false positive moves a category's precision 5 points).
DEV_RECALL_FLOORS = {"emergency": 0.95, "threat": 0.95, "legal": 0.95, "abuse": 0.88,
                     "dispute": 0.88, "refund": 0.88, "human": 0.9, "out_of_scope": 0.83}


@pytest.mark.parametrize(("category", "floor"), sorted(DEV_RECALL_FLOORS.items()))
def test_dev_recall_floor(dev_figures: dict[str, Any], category: str, floor: float) -> None:
    assert dev_figures["categories"][category]["recall"] >= floor, dev_figures["misclassified"]


def test_dev_overall_floors(dev_figures: dict[str, Any]) -> None:
    assert dev_figures["overall"]["precision"] >= 0.93  # measured 0.987
    assert dev_figures["overall"]["recall"] >= 0.95  # measured 0.993
    assert dev_figures["hard_negative_fp_rate"] <= 0.05  # measured 0.020 (1 of 49)
    for category in DEV_RECALL_FLOORS:
        assert dev_figures["categories"][category]["precision"] >= 0.85


def test_figures_count_every_line(figures: dict[str, Any]) -> None:
    lines = CORPUS.read_text("utf-8").splitlines()[1:]
    support = sum(c["support"] for c in figures["categories"].values())
    assert support == sum(1 for line in lines if not line.startswith("none\t"))
    assert figures["hard_negatives"] == sum(1 for line in lines if "\thard\t" in line)


def test_seeds_parse_and_cover_every_label() -> None:
    seeds = classify.load_seeds()
    counts = {label: sum(s.label == label for s in seeds) for label in classify.LABELS}
    assert all(n >= 15 for n in counts.values()), counts


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("'", "")))


def test_seeds_are_not_corpus_lines() -> None:
    # neither corpus.tsv nor heldout_dev.tsv, compared as bare words (case, apostrophes
    # and punctuation aside)
    corpus = {_words(line.split("\t")[2])
              for path in (CORPUS, DEV, SPENT, BLIND)
              for line in path.read_text("utf-8").splitlines()[1:] if line.strip()}
    assert not [s.text for s in classify.load_seeds() if _words(s.text) in corpus]


def test_bad_seed_lines_are_refused() -> None:
    with pytest.raises(ValueError, match="line 2"):
        classify.parse_seeds("# comment\nnonsense without a tab\n")
    with pytest.raises(ValueError, match="line 1"):
        classify.parse_seeds("angry\tyou made me angry\n")


def test_classifier_is_deterministic_and_trained_from_the_seeds_only() -> None:
    text = "I'd like my payment returned please"
    before = classify.scores(text)
    assert sum(before.values()) == pytest.approx(1.0)
    assert set(before) == set(classify.LABELS)
    # a fresh training run from the shipped seeds gives the same probabilities
    fresh = classify.train(classify.load_seeds()).probabilities(text)
    assert [before[label] for label in classify.LABELS] == pytest.approx(list(fresh), abs=0)
    assert classify.scores(text) == before
    # the seeds decide: a model trained on other seeds answers differently
    other = classify.train([classify.Seed("refund", "pizza"), classify.Seed("none", "hello")])
    assert list(other.probabilities(text)) != list(fresh)


def test_classifier_ranks_seed_like_turns_sensibly() -> None:
    cases = {"please give me my money back": "refund",
             "book me for an oil change tomorrow": "none",
             "you worthless moron": "abuse"}
    for text, label in cases.items():
        s = classify.scores(text)
        assert max(s, key=lambda k: s[k]) == label, (text, s)


def test_the_spent_set_does_not_get_worse() -> None:
    spent = _evaluate(SPENT)  # see the docstring: sealed once, then used for tuning
    assert spent["overall"]["precision"] >= 0.93  # measured 0.969
    assert spent["overall"]["recall"] >= 0.78  # measured 0.834 (0.530 before the features)
    assert spent["hard_negative_fp_rate"] <= 0.1  # measured 0.042 (2 of 48)
    for category, floor in {"emergency": 0.95, "threat": 0.77, "legal": 0.9}.items():
        assert spent["categories"][category]["recall"] >= floor  # measured 1.0/0.82/0.95


def test_the_blind_set_keeps_its_measured_figures() -> None:
    blind = _evaluate(BLIND)  # measured once (see the docstring); floors: 2 lines of slack
    assert blind["overall"]["precision"] >= 0.93  # measured 0.957
    assert blind["overall"]["recall"] >= 0.9  # measured 0.940
    assert blind["hard_negative_fp_rate"] <= 0.13  # measured 0.094 (6 of 64)
    for category in MUST_CATCH:  # 32 lines each: one miss is 0.03
        assert blind["categories"][category]["recall"] >= 0.9  # measured 0.97 each
