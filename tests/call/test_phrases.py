"""PhraseChunker: streamed text in, speakable phrases out."""

from __future__ import annotations

import re

import pytest

from frontdesk.call.phrases import PhraseChunker


def all_at_once(text: str) -> list[str]:
    chunker = PhraseChunker()
    return chunker.push(text) + chunker.flush()


def char_by_char(text: str) -> list[str]:
    chunker = PhraseChunker()
    out: list[str] = []
    for ch in text:
        out += chunker.push(ch)
    return out + chunker.flush()


def word_tokens(text: str) -> list[str]:
    chunker = PhraseChunker()
    out: list[str] = []
    # LLM-like tokens: a word with its leading space, punctuation as its own token
    for token in re.findall(r"\s*[\w$']+|\s*[^\w\s]|\s+", text):
        out += chunker.push(token)
    return out + chunker.flush()


def test_sentence_end_needs_following_whitespace() -> None:
    chunker = PhraseChunker()
    assert chunker.push("Hello there.") == []  # the '.' may still be "there.com" or "3.5"
    assert chunker.push(" ") == ["Hello there."]
    assert chunker.push("How can I help?") == []
    assert chunker.push("\n") == ["How can I help?"]
    assert chunker.flush() == []


@pytest.mark.parametrize("end", [".", "!", "?"])
def test_each_sentence_end(end: str) -> None:
    chunker = PhraseChunker()
    assert chunker.push(f"Hi{end} Rest") == [f"Hi{end}"]
    assert chunker.flush() == ["Rest"]


def test_several_sentences_in_one_push() -> None:
    chunker = PhraseChunker()
    assert chunker.push("One. Two! Three? Four") == ["One.", "Two!", "Three?"]
    assert chunker.flush() == ["Four"]


FIRST = "x" * 19 + ","  # a clause ending at exactly 20 characters


def test_first_phrase_is_cut_at_a_clause_once_20_chars() -> None:
    chunker = PhraseChunker()
    assert chunker.push(FIRST) == []  # no whitespace after the comma yet
    assert chunker.push(" and") == [FIRST]


def test_first_phrase_is_not_cut_at_a_clause_before_20_chars() -> None:
    chunker = PhraseChunker()
    assert chunker.push("x" * 18 + ", and more words") == []
    assert chunker.flush() == ["x" * 18 + ", and more words"]


def test_first_phrase_cut_skips_short_clauses_to_the_first_long_enough_one() -> None:
    text = "Well, sure, let me look into that; one moment please"
    assert all_at_once(text) == ["Well, sure, let me look into that;", "one moment please"]


@pytest.mark.parametrize("mark", [",", ";", ":"])
def test_each_clause_mark(mark: str) -> None:
    text = f"Let me check the calendar{mark} one moment"
    assert all_at_once(text) == [f"Let me check the calendar{mark}", "one moment"]


def test_later_phrases_need_a_much_longer_clause() -> None:
    chunker = PhraseChunker()
    assert chunker.push("Sure. ") == ["Sure."]
    forty = "We have openings on Tuesday and Thursday,"  # 41 chars: enough for a first phrase
    assert chunker.push(forty + " both mornings") == []
    seventy = " and on Friday afternoon if that suits you better than the others,"
    assert chunker.push(seventy + " or") == [forty + " both mornings" + seventy]
    assert chunker.flush() == ["or"]


def test_the_20_char_rule_applies_only_until_a_phrase_came_out() -> None:
    short_clause = "Let me check the calendar, one moment"  # comma at 26: first-phrase cut
    assert all_at_once(short_clause) == ["Let me check the calendar,", "one moment"]
    assert all_at_once("Hi. " + short_clause) == ["Hi.", short_clause]


def test_flush_returns_the_stripped_remainder_once() -> None:
    chunker = PhraseChunker()
    assert chunker.push("  Thanks for calling ") == []
    assert chunker.flush() == ["Thanks for calling"]
    assert chunker.flush() == []


@pytest.mark.parametrize("text", ["", " ", "\n\t  "])
def test_empty_or_blank_input_gives_no_phrase(text: str) -> None:
    chunker = PhraseChunker()
    assert chunker.push(text) == []
    assert chunker.flush() == []


def test_blank_between_sentences_gives_no_empty_phrase() -> None:
    assert all_at_once("One.   \n  Two.  ") == ["One.", "Two."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The consultation costs 49.95 dollars in total. Okay",
         ["The consultation costs 49.95 dollars in total.", "Okay"]),
        ("Your appointment is at 3:30 on Tuesday with Dana",
         ["Your appointment is at 3:30 on Tuesday with Dana"]),
        ("It is 1,250 dollars for the whole package, paid upfront",
         ["It is 1,250 dollars for the whole package,", "paid upfront"]),
        ("See you at 10:15. Bye", ["See you at 10:15.", "Bye"]),
    ],
)
def test_numbers_are_not_cut(text: str, expected: list[str]) -> None:
    assert all_at_once(text) == expected
    assert char_by_char(text) == expected
    assert word_tokens(text) == expected


STREAMING_TEXTS = [
    "Hello! Thanks for calling Bright Smile Dental. How can I help you today?",
    "Let me check the calendar for you, one moment please",
    "Sure thing. I have booked you in for a cleaning on Tuesday at 9:30 in the morning, "
    "with Dr Patel, and you will get a text reminder the day before",
    "The total is $49.95. That includes tax, the exam, and the X-rays",
    "Okay",
    "",
]

# A qualifying clause cut followed by a sentence end later in the same buffer: streaming
# cuts at the clause; one push must cut there too.
CLAUSE_THEN_SENTENCE = [
    "Sure, I can help you with that, let me check. OK then.",
    "Let me check the calendar for you, one moment. We have Tuesday at 3:30 or 4:15.",
    "Sure thing. I have booked you in for a cleaning on Tuesday at 9:30 in the morning, "
    "with Dr Patel, and you will get a text reminder the day before. Anything else?",
]


@pytest.mark.parametrize("text", STREAMING_TEXTS)
def test_token_streaming_gives_the_same_phrases_as_one_push(text: str) -> None:
    expected = all_at_once(text)
    assert char_by_char(text) == expected
    assert word_tokens(text) == expected
    assert "".join(expected).replace(" ", "") == text.replace(" ", "")  # nothing lost


def test_streaming_example_phrases() -> None:
    # pins the phrases of streamed replies, so the equality above is not vacuous
    assert word_tokens(STREAMING_TEXTS[1]) == [
        "Let me check the calendar for you,",
        "one moment please",
    ]
    assert word_tokens(STREAMING_TEXTS[2]) == [
        "Sure thing.",
        "I have booked you in for a cleaning on Tuesday at 9:30 in the morning,",
        "with Dr Patel, and you will get a text reminder the day before",
    ]
    assert word_tokens(CLAUSE_THEN_SENTENCE[0]) == [
        "Sure, I can help you with that,", "let me check.", "OK then.",
    ]


@pytest.mark.parametrize("text", CLAUSE_THEN_SENTENCE)
def test_one_push_cuts_at_the_earliest_clause_like_streaming_does(text: str) -> None:
    # a sentence end later in the buffer must not win over an earlier clause cut
    assert all_at_once(text) == char_by_char(text) == word_tokens(text)


def test_a_long_first_sentence_without_punctuation_is_cut_at_a_word() -> None:
    chunker = PhraseChunker()
    text = "We are open every weekday from eight in the morning until five in the afternoon."
    phrases = chunker.push(text + " ") + chunker.flush()
    assert len(phrases) == 2 and " ".join(phrases) == text
    assert 20 < len(phrases[0]) <= 60 and not phrases[0].endswith(" ")
    later = chunker.push(text + " ")  # only the first phrase gets the word cut
    assert later == [text]
