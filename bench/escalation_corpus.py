"""Escalation detectors against the labelled corpus; prints precision and recall as JSON.

    python bench/escalation_corpus.py                  # tests/escalation/corpus.tsv
    python bench/escalation_corpus.py --corpus other.tsv --no-misses

Each utterance of the corpus (``label<TAB>kind<TAB>utterance``, written independently of
the rules and never used to train the classifier) goes through ``detect()`` with the
example profile's policy; the first live hit's category is the prediction (``none`` when
nothing fires; ``self_harm`` counts as ``threat``, as the corpus labels it).

``detect_ms_per_utterance`` is the mean wall time of one ``detect()`` (rules, word
features and the sentence model), the cost added to every caller turn.

``overall.precision`` is the share of escalation predictions with the right category,
``overall.recall`` the share of escalation utterances given their right category;
``hard_negative_fp_rate`` the share of ``none``/``hard`` lines (near misses: "I'd kill
for a slot", "dead battery") that escalate anyway.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frontdesk.escalation import detect
from frontdesk.profile import example_profile_text, parse_profile

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "escalation" / "corpus.tsv"
LABELS = ("emergency", "threat", "legal", "abuse", "dispute", "refund", "human",
          "out_of_scope")


@dataclass(frozen=True)
class Line:
    label: str
    kind: str
    utterance: str


def read_corpus(path: Path = CORPUS) -> list[Line]:
    lines = path.read_text("utf-8").splitlines()
    rows = [line.split("\t") for line in lines[1:] if line.strip()]
    return [Line(label, kind, utterance) for label, kind, utterance in rows]


def evaluate(path: Path = CORPUS) -> dict[str, Any]:
    """The figures: per category, overall, hard negatives and every misclassified line."""
    policy = parse_profile(example_profile_text(), "<example>").escalation
    counts = {label: {"tp": 0, "fp": 0, "fn": 0, "support": 0} for label in LABELS}
    misses: list[dict[str, str]] = []
    hard = hard_fp = predicted_escalations = right_escalations = positives = 0
    detect("warm up", policy)  # the classifier loads (or trains) on first use
    elapsed = 0.0
    rows = read_corpus(path)
    for line in rows:
        started = time.perf_counter()
        hits = detect(line.utterance, policy)
        elapsed += time.perf_counter() - started
        live = [hit for hit in hits if hit.vetoed_by is None]
        first = live[0] if live else None
        predicted = "none" if first is None else first.category
        predicted = "threat" if predicted == "self_harm" else predicted
        if line.label != "none":
            counts[line.label]["support"] += 1
            positives += 1
        if line.kind == "hard":
            hard += 1
            hard_fp += predicted != "none"
        if predicted != "none":
            predicted_escalations += 1
            right_escalations += predicted == line.label
        if predicted == line.label:
            if predicted != "none":
                counts[predicted]["tp"] += 1
            continue
        if predicted != "none":
            counts[predicted]["fp"] += 1
        if line.label != "none":
            counts[line.label]["fn"] += 1
        misses.append({"label": line.label, "kind": line.kind, "predicted": predicted,
                       "rule": first.rule if first else "", "evidence":
                       first.evidence if first else "", "utterance": line.utterance})
    per_category = {
        label: {"precision": _ratio(c["tp"], c["tp"] + c["fp"]),
                "recall": _ratio(c["tp"], c["tp"] + c["fn"]), **c}
        for label, c in counts.items()}
    return {
        "categories": per_category,
        "overall": {"precision": _ratio(right_escalations, predicted_escalations),
                    "recall": _ratio(right_escalations, positives),
                    "predicted_escalations": predicted_escalations, "positives": positives},
        "hard_negative_fp_rate": _ratio(hard_fp, hard),
        "hard_negatives": hard,
        "detect_ms_per_utterance": round(elapsed / max(1, len(rows)) * 1000, 2),
        "misclassified": misses,
    }


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 1.0


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--no-misses", action="store_true", help="figures only")
    args = parser.parse_args(argv)
    figures = evaluate(args.corpus)
    if args.no_misses:
        figures.pop("misclassified")
    return figures


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
