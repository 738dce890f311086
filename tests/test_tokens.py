"""steu_core.model.tokens: a note is cut to a character budget before tokenisation (memory follows
the token limit, not the note), and a note long enough to fill ``max_length`` is encoded exactly as
if it had been tokenised in full."""
from __future__ import annotations

import random

import pytest
from tiny_models import CORPUS, _bpe_tokenizer, _wordpiece_tokenizer

from steu_core.model import CHARS_PER_TOKEN, beyond_limit, char_budget, encode
from steu_core.model.tokens import cut_note

WORDS = ["chest", "pain", "troponin", "cough,", "wheezing.", "naloxone", "mg", "q4h", "(stable)", "x-ray", "é"]


@pytest.fixture(scope="module", params=["wordpiece", "bpe"])
def tokenizer(request):
    return _wordpiece_tokenizer(None) if request.param == "wordpiece" else _bpe_tokenizer(CORPUS)


def _note(n_words: int, seed: int, spaces=(" ", " ", " ", "  ", "\n", "\t")) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(WORDS) + rng.choice(spaces) for _ in range(n_words)).strip()


def _full_then_truncated(tokenizer, text: str, max_length: int) -> list[int]:
    """What encoding did before the cut: tokenise everything, keep max_length - 1 and the closing token."""
    ids = tokenizer([text], add_special_tokens=True, truncation=False, verbose=False)["input_ids"][0]
    return ids if len(ids) <= max_length else ids[:max_length - 1] + [ids[-1]]


def test_cut_note_keeps_words_whole():
    assert cut_note("short note", 100) == "short note"
    assert cut_note("alpha beta gamma", 12) == "alpha beta"  # not "alpha beta g"
    assert cut_note("alpha beta gamma", 10) == "alpha beta"  # the whitespace right at the budget
    assert cut_note("x" * 50, 20) == "x" * 20  # no whitespace at all: cut exactly
    assert cut_note("a " + "x" * 50, 20) == "a " + "x" * 18  # whitespace only in the first half: cut exactly
    assert len(cut_note(_note(5000, 1), 700)) <= 700


@pytest.mark.parametrize("max_length", [8, 32, 128])
def test_long_notes_encode_exactly_as_in_full(tokenizer, max_length):
    notes = [_note(n, seed) for seed, n in enumerate([3, 40, max_length * 3, max_length * 12, 4000])]
    assert max(len(t) for t in notes) > char_budget(max_length)  # some notes are really cut
    enc = encode(tokenizer, notes, max_length)
    for i, text in enumerate(notes):
        assert enc.ids[i].tolist() == _full_then_truncated(tokenizer, text, max_length), i
    assert enc.truncated == sum(len(tokenizer(t)["input_ids"]) > max_length for t in notes)


def test_the_tokenizer_never_sees_more_than_the_budget(tokenizer):
    """Memory per note follows max_length: a 2-million-character note reaches the tokenizer cut."""
    seen = []

    def spy(texts, **kwargs):
        seen.extend(len(t) for t in texts)
        return tokenizer(texts, **kwargs)

    huge = "troponin " * 250_000
    enc = encode(spy, [huge, "cough"], 64)
    assert max(seen) <= char_budget(64) == 64 * CHARS_PER_TOKEN
    assert enc.lengths.tolist()[0] == 64 and enc.truncated == 1


def test_a_note_cut_in_characters_counts_as_truncated(tokenizer):
    """Mostly whitespace (WordPiece drops it: 3 tokens survive the cut, fewer than max_length), but
    the note was cut, so it is counted."""
    note = "cough" + " " * (char_budget(16) + 10) + "pain"
    enc = encode(tokenizer, [note], 16)
    assert enc.truncated == 1


def test_encode_tells_how_many_notes_are_done(tmp_path):
    tok = _wordpiece_tokenizer(tmp_path)
    heard: list[int] = []
    enc = encode(tok, [f"note {i} about chest pain" for i in range(25)], 16, batch=10, progress=heard.append)
    assert heard == [10, 20, 25] and len(enc) == 25


@pytest.mark.parametrize("max_length", [8, 32, 128])
def test_beyond_limit_counts_the_occurrences_a_cut_note_loses(tokenizer, max_length):
    """Counted in pieces of the character budget, the occurrences match the whole note tokenised at once:
    all of them, and those past the first max_length tokens (the model reads max_length - 2 between specials)."""
    notes = [_note(n, seed, spaces=(" ", "  ", "\n")) for seed, n in enumerate([3, 40, max_length * 3, max_length * 12])]
    ids = tokenizer(["naloxone troponin"], add_special_tokens=False)["input_ids"][0]
    full = [tokenizer([t], add_special_tokens=False, verbose=False)["input_ids"][0] for t in notes]
    room = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    want_all = sum(sum(t in ids for t in seq) for seq in full)
    want_beyond = sum(sum(t in ids for t in seq[room:]) for seq in full)
    got = beyond_limit(tokenizer, notes, ids, max_length, batch=3)
    assert want_beyond > 0 and (got["occurrences"], got["beyond_limit"]) == (want_all, want_beyond)
    assert got["fraction"] == pytest.approx(want_beyond / want_all) and got["max_length"] == max_length


def test_beyond_limit_of_no_tokens_or_short_notes(tokenizer):
    assert beyond_limit(tokenizer, ["cough pain"], [], 16)["fraction"] is None  # a method that selected no rows
    ids = tokenizer(["cough"], add_special_tokens=False)["input_ids"][0]
    short = beyond_limit(tokenizer, ["cough and more cough"], ids, 64)
    assert short["occurrences"] >= 2 and short["beyond_limit"] == 0 and short["fraction"] == 0.0
