"""Escalation detectors: which hard rules one caller utterance trips, and why.

Pure functions over STT text and the profile's :class:`Escalation` policy; no I/O, no
clock. Text is matched as words: lower case, apostrophes dropped (``don't`` and ``dont``
are the same word, as STT writes either), fillers (um, uh) removed, punctuation kept only
as clause boundaries. Every pattern below is written against that normal form.

A trigger is cancelled, and kept as a near miss for the audit (``vetoed_by``), when

* a negation cue governs it: a cue (``not``, ``never``, ``no``, ``don't``, ``without``...)
  at most five words before it, in the same clause, with no new subject in between
  ("I'm not going to sue" is vetoed, "not happy I want a refund" is not), unless the cue
  is a clause-wide one said just before that subject ("no way I'd sue", "not like it's
  an emergency"); a cue followed by a reverser asserts instead ("don't make me come
  down there", "I won't hesitate to sue");
* an idiom or a profile ``unless`` phrase overlaps it ("dead battery", "kill for",
  "emergency brake");
* a retraction follows within four words ("just kidding", "not really", "scratch that";
  "I'm not kidding" is no retraction).

Triggers that carry their own negation ("I didn't authorize that", "I don't want to
live") are marked not negatable. The classifier (``classify.py``) is consulted for a
category only when no rule, live or vetoed, spoke for it: a vetoed rule is a decision,
not a gap for the classifier to fill.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from frontdesk.escalation import classify
from frontdesk.escalation.rules import IDIOMS, RULES
from frontdesk.profile.policy import CATEGORIES, Category, Escalation

__all__ = ["BELOW_THRESHOLD", "RULE_DECIDED", "Hit", "detect"]

# vetoed_by of a classifier hit whose probability is in [near_miss_above, act_above)
BELOW_THRESHOLD = "below_threshold"
# vetoed_by of a classifier hit on an utterance a live rule already decided
RULE_DECIDED = "rule_decided"


@dataclass(frozen=True)
class Hit:
    category: Category
    rule: str  # "legal.sue", "profile.legal", "out_of_scope.towing", "classifier.refund"
    evidence: str  # the words that matched, as said
    confidence: float  # 0..1
    vetoed_by: str | None = None  # "negation:not", "idiom:dead battery", "unless:...", ...


# --- the words of an utterance --------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)*")
_BOUNDARY = re.compile(r"[.,;:!?()\"\u2014\u2013]|\s-\s")
_FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "mm"})
# words that start a new clause (STT often drops the comma before them)
_CLAUSE_WORDS = frozenset({"but", "and", "so", "because", "cause", "though", "although",
                           "or", "then"})
# a new subject ends a negation's reach ("not happy i want a refund")
_SUBJECTS = frozenset({"i", "im", "ive", "id", "ill", "you", "youre", "he", "she", "we",
                       "they", "it", "its", "theres", "there", "this", "that"})
_NEGATIONS = frozenset({"not", "no", "never", "dont", "doesnt", "didnt", "wont", "wouldnt",
                        "isnt", "arent", "wasnt", "werent", "aint", "cant", "cannot",
                        "without", "nobody", "nothing", "neither", "nor", "shouldnt",
                        "havent", "hasnt"})
_NEGATION_REACH = 5
# "'s" is dropped from possessives and "is" contractions ("my wife's water", "the guy's
# not breathing"), but kept on the pronouns the rules spell whole ("it's", "there's")
_KEEP_S = frozenset({"he", "she", "it", "that", "there", "what", "who", "here", "let",
                     "where", "how", "when", "why", "yall"})
# a negation followed by one of these asserts the trigger ("won't stop bleeding", "don't
# make me come down there", "I won't hesitate to sue", "I'm not afraid to call my lawyer")
_REVERSERS = frozenset({"stop", "quit", "let", "see", "care", "think", "make", "push",
                        "tempt", "test", "forget", "hesitate", "afraid", "problem", "doubt"})
# these negate a whole clause, across its new subject ("no way I'd sue you", "not like
# it's an emergency", "not that I want to sue")
_WIDE_NEGATIONS = frozenset({"no way", "not that", "not like", "not saying", "never said",
                             "not as", "not cause", "not because"})
# said right after a trigger, these take it back ("it's an emergency... well not really");
# "not kidding" and "no joke" insist instead
_RETRACTION = re.compile(r"(?:well )?not really|no wait|never ?mind|scratch that|"
                         r"(?<!not )(?<!no )(?<!even )(?:(?:im|i was|only|just) )?"
                         r"(?:kidding|joking)|jk|not literally|(?:its |just )?a figure of "
                         r"speech|not (?:for real|seriously)")
_RETRACTION_REACH = 4


@dataclass(frozen=True)
class _Words:
    """Normalised words joined by single spaces, mapped back to the original text.

    Lower case; apostrophes dropped (``don't`` is ``dont``), and a possessive or ``is``
    ``'s`` dropped from nouns (``somebody's gonna`` is ``somebody gonna``); fillers out.
    """

    original: str
    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]  # each word's span in the original
    clauses: tuple[int, ...]  # each word's clause number
    starts: tuple[int, ...]  # each word's offset in ``text``
    text: str

    @classmethod
    def of(cls, original: str) -> _Words:
        words: list[str] = []
        spans: list[tuple[int, int]] = []
        clauses: list[int] = []
        clause, last_end = 0, 0
        for m in _TOKEN.finditer(original):
            word = m.group().lower().replace("\u2019", "'")
            if word.endswith("'s") and word[:-2].replace("'", "") not in _KEEP_S:
                word = word[:-2]  # "my dad's clutching", "somebody's gonna"
            word = word.replace("'", "")
            if word in _FILLERS:
                continue
            if _BOUNDARY.search(original, last_end, m.start()) or word in _CLAUSE_WORDS:
                clause += 1
            words.append(word)
            spans.append(m.span())
            clauses.append(clause)
            last_end = m.end()
        starts, offset = [], 0
        for word in words:
            starts.append(offset)
            offset += len(word) + 1
        return cls(original, tuple(words), tuple(spans), tuple(clauses), tuple(starts),
                   " ".join(words))

    def find(self, pattern: re.Pattern[str]) -> Iterator[tuple[int, int]]:
        """Word ranges ``[first, last)`` where the pattern matches whole words."""
        for m in pattern.finditer(self.text):
            if m.end() == m.start():
                continue
            first = self._word_at(m.start())
            last = self._word_at(m.end() - 1) + 1
            yield first, last

    def _word_at(self, offset: int) -> int:
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def evidence(self, first: int, last: int) -> str:
        return self.original[self.spans[first][0]:self.spans[last - 1][1]]

    def retraction(self, last: int) -> str | None:
        """A retraction said within a few words after the trigger ending at ``last``."""
        window = " ".join(self.words[last:last + _RETRACTION_REACH])
        m = _RETRACTION.search(window)
        return m.group() if m else None

    def negation(self, first: int) -> str | None:
        """The negation cue governing the word at ``first``, if any."""
        for i in range(first - 1, max(-1, first - 1 - _NEGATION_REACH), -1):
            if self.clauses[i] != self.clauses[first]:
                return None
            word = self.words[i]
            if word in _NEGATIONS:
                if self.words[i + 1] in _REVERSERS:  # "won't stop bleeding"
                    return None
                if word == "no" and i + 1 < len(self.words) and self.words[i + 1] == "need":
                    return "no need"
                return word
            if word in _SUBJECTS:
                wide = " ".join(self.words[max(0, i - 2):i])
                if wide in _WIDE_NEGATIONS and self.clauses[i - 2] == self.clauses[first]:
                    return wide
                return None
        return None


# the end of a word spelled ``ing`` in a pattern (before a space, group end, ``|``, ``?``)
_ING = re.compile(r"(?<=[a-z])ing(?=[ )|?\\]|$)")


def _compile(pattern: str) -> re.Pattern[str]:
    """Whole words; every ``...ing`` also matches the dropped-g ``...in`` that callers say
    and STT writes ("comin", "burnin", "breathin"), so rules spell each form once."""
    pattern = _ING.sub("ing?", pattern)
    return re.compile(rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])")


def _phrase(phrase: str) -> re.Pattern[str]:
    """A profile phrase as whole words in the normal form."""
    words = _Words.of(phrase).words
    if not words:
        return re.compile(r"(?!)")
    # the plural of the last word too ("paint job" also matches "paint jobs")
    return _compile(r"\s".join(re.escape(w) for w in words) + "(?:s|es)?")


# --- the built-in rules (their patterns live in ``rules.py``) ---------------------------


@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    confidence: float
    negatable: bool


_RULES: dict[Category, tuple[_Rule, ...]] = {
    category: tuple(_Rule(r.name, _compile(r.pattern), r.confidence, r.negatable)
                    for r in specs)
    for category, specs in RULES.items()
}

# confidence of a profile's own phrases and out-of-scope topics
_PROFILE_CONFIDENCE = 0.9
_COMPILED_IDIOMS: dict[Category, tuple[tuple[str, re.Pattern[str]], ...]] = {
    category: tuple((p, _compile(p)) for p in patterns)
    for category, patterns in IDIOMS.items()
}
_CLASSIFIED: tuple[Category, ...] = tuple(c for c in CATEGORIES if c in classify.LABELS)
# The classifier acts from the policy's ``act_above`` (default 0.65) for every category,
# the urgent ones included, and only on an utterance no live rule decided: there it is
# kept as a near miss (RULE_DECIDED), so a confident profile phrase ("tow truck") is not
# outranked by a guess. The default was chosen on corpus.tsv, heldout_dev.tsv and the
# spent first sealed set (heldout_test.tsv) once the classifier had sentence-model
# features: from 0.8 to 0.65 recall rose from 0.78 to 0.83 there at the same precision
# (0.97) and the same hard-negative false-positive rate (0.04); below 0.65 the false
# alarms grow faster than the catches (bench/escalation_corpus.py; README).


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _vetoes(words: _Words, category: Category,
            unless: Iterable[str]) -> list[tuple[str, tuple[int, int]]]:
    found: list[tuple[str, tuple[int, int]]] = []
    for _, pattern in _COMPILED_IDIOMS.get(category, ()):
        found += [("idiom:" + words.evidence(*span).lower(), span)
                  for span in words.find(pattern)]
    for phrase in unless:
        found += [("unless:" + phrase, span) for span in words.find(_phrase(phrase))]
    return found


def _triggers(words: _Words, policy: Escalation,
              category: Category) -> Iterator[tuple[str, tuple[int, int], float, bool]]:
    """(rule, word span, confidence, negatable) of every trigger of the category."""
    for rule in _RULES.get(category, ()):
        for span in words.find(rule.pattern):
            yield rule.name, span, rule.confidence, rule.negatable
    for phrase in policy.rule(category).phrases:
        for span in words.find(_phrase(phrase)):
            yield f"profile.{category}", span, _PROFILE_CONFIDENCE, True
    if category == "out_of_scope":
        for topic in policy.out_of_scope:
            for phrase in topic.phrases:
                for span in words.find(_phrase(phrase)):
                    yield f"out_of_scope.{topic.id}", span, _PROFILE_CONFIDENCE, True


def _rule_hits(words: _Words, policy: Escalation, category: Category) -> list[Hit]:
    vetoes = _vetoes(words, category, policy.rule(category).unless)
    # one hit per rule: a live one before a vetoed one, then the longest, then the first
    hits: dict[str, tuple[Hit, int]] = {}
    for name, span, confidence, negatable in _triggers(words, policy, category):
        veto = next((why for why, where in vetoes if _overlaps(span, where)), None)
        if veto is None and negatable:
            cue = words.negation(span[0])
            veto = f"negation:{cue}" if cue else None
        if veto is None:
            retracted = words.retraction(span[1])
            veto = f"retracted:{retracted}" if retracted else None
        hit = Hit(category, name, words.evidence(*span), confidence, veto)
        rank = (veto is None) * 1000 + span[1] - span[0]
        if name not in hits or rank > hits[name][1]:
            hits[name] = (hit, rank)
    return [hit for hit, _ in hits.values()]


def detect(text: str, policy: Escalation) -> list[Hit]:
    """Every hit for one utterance: live hits first in the policy's CATEGORIES order, then
    vetoed ones (negations, idioms, ``unless`` phrases, classifier near misses).

    ``misunderstanding`` is never detected from text (the engine counts unclear turns); a
    disabled category never hits, not even as a near miss. A classifier hit
    (``classifier.<category>``) is added only for a category no rule spoke for, live when
    its probability reaches ``act_above`` and no rule hit is live (else vetoed as
    :data:`RULE_DECIDED`), vetoed as :data:`BELOW_THRESHOLD` from ``near_miss_above``.
    """
    words = _Words.of(text)
    if not words.words:
        return []
    hits: list[Hit] = []
    spoken: set[Category] = set()
    for category in CATEGORIES:
        if category == "misunderstanding" or not policy.rule(category).enabled:
            continue
        found = _rule_hits(words, policy, category)
        if found:
            spoken.add(category)
        hits += found
    probabilities = classify.scores(text)
    ruled = any(hit.vetoed_by is None for hit in hits)
    for category in _CLASSIFIED:
        if category in spoken or not policy.rule(category).enabled:
            continue
        p = probabilities[category]
        if p >= policy.act_above:
            hits.append(Hit(category, f"classifier.{category}", text.strip(), p,
                            RULE_DECIDED if ruled else None))
        elif p >= policy.near_miss_above:
            hits.append(Hit(category, f"classifier.{category}", text.strip(), p,
                            BELOW_THRESHOLD))
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return sorted(hits, key=lambda h: (h.vetoed_by is not None, order[h.category]))
