"""data_samples/: the synthetic notes are reproducible, well-formed and free of identifier-like text."""
from __future__ import annotations

import csv
import importlib.util
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "data_samples"
FILES = ("train.csv", "test.csv", "forget_substance_use.csv")


def _load_generator():
    spec = importlib.util.spec_from_file_location("steu_data_samples_generate", SAMPLES / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = _load_generator()


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def committed() -> dict[str, list[dict]]:
    return {name: _rows(SAMPLES / name) for name in FILES}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fresh")
    gen.write_dataset(out)
    return out


def test_generator_is_deterministic(fresh, tmp_path):
    """A second run, through the command line, writes byte-identical files."""
    subprocess.run([sys.executable, str(SAMPLES / "generate.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (fresh / name).read_bytes(), name


def test_committed_files_match_a_fresh_generation(fresh):
    for name in FILES:
        assert (SAMPLES / name).read_bytes() == (fresh / name).read_bytes(), \
            f"{name} is stale: run python data_samples/generate.py"


def test_other_seeds_and_sizes_differ_but_stay_balanced():
    notes = gen.generate_notes(10, seed=3)
    assert notes != gen.generate_notes(10, seed=4)
    assert Counter(n["label"] for n in notes) == {c: 10 for c in gen.CLASSES}
    assert [n["note_id"] for n in notes] == [f"syn-{i:06d}" for i in range(1, 61)]


def test_schema_classes_and_counts(committed):
    for name, rows in committed.items():
        assert rows and list(rows[0].keys()) == ["note_id", "text", "label"], name
        for r in rows:
            assert re.fullmatch(r"syn-\d{6}", r["note_id"]) and r["text"].strip()
            assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", r["label"])
    train, test = committed["train.csv"], committed["test.csv"]
    ids = [r["note_id"] for r in train + test]
    assert len(ids) == len(set(ids)), "a note is in both splits or repeated"
    total = Counter(r["label"] for r in train + test)
    assert len(total) >= 6 and min(total.values()) >= 250
    assert gen.SENSITIVE_CLASS == "substance_use_disorder" and gen.SENSITIVE_CLASS in total
    tr, te = Counter(r["label"] for r in train), Counter(r["label"] for r in test)
    for label in total:  # stratified 75/25
        assert tr[label] == 3 * te[label]


def test_forget_file_is_exactly_the_sensitive_training_notes(committed):
    expected = [r for r in committed["train.csv"] if r["label"] == "substance_use_disorder"]
    assert committed["forget_substance_use.csv"] == expected
    assert len(expected) == 240


def _demo_tokenizer():
    from transformers import AutoTokenizer

    from steu_core.train import base_model_path

    return AutoTokenizer.from_pretrained(base_model_path("default"))


def test_the_demo_model_reads_every_note_whole(committed):
    """Every note, [CLS] and [SEP] included, fits the demo's max_length: the demo never cuts its own notes
    (also at corpus scale, where rare long draws would show)."""
    from steu_core.demo import DEMO_CONFIG

    tok = _demo_tokenizer()
    texts = [r["text"] for r in committed["train.csv"] + committed["test.csv"]]
    texts += [n["text"] for n in gen.generate_notes(100, seed=11)]
    lengths = [len(ids) for ids in tok(texts, truncation=False, verbose=False)["input_ids"]]
    assert max(lengths) <= DEMO_CONFIG.max_length, max(lengths)
    assert max(len(t) for t in texts) <= gen.MAX_CHARS + max(gen.TYPO_COUNTS)  # a typing slip may double a letter
    words = [len(t.split()) for t in texts]
    assert min(words) >= gen.MIN_WORDS and sum(lengths) / len(lengths) > 60  # short notes, not stubs


def test_sizes_modest():
    assert sum((SAMPLES / n).stat().st_size for n in FILES) < 3_000_000


# patterns that fit inside one whitespace-separated token run over the distinct tokens only (fast)
TOKEN_PATTERNS = {
    "slash date": re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"),
    "ISO date": re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b"),
    "dotted or dashed date": re.compile(r"\b\d{1,2}[-.]\d{1,2}[-.](?:19|20)?\d{2}\b"),
    "year": re.compile(r"\b(?:19|20)\d{2}\b"),
    "MRN-like digit run": re.compile(r"\d{6,}"),
    "email": re.compile(r"\w@\w"),
}
TEXT_PATTERNS = {
    "month and day": re.compile(r"\b(?:January|February|March|April|June|July|August|September|October|"
                                r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d"),
    "phone": re.compile(r"(?:\(\d{3}\) ?|\b\d{3}[-. ])\d{3}[-. ]\d{4}\b"),
    "record label": re.compile(r"\b(?:MRN|DOB|SSN|[Mm]edical record|[Dd]ate of birth)\b"),
    "honorific and name": re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Miss)\.? [A-Z][a-z]"),
}


def test_no_identifier_like_text(committed):
    texts = [r["text"] for r in committed["train.csv"] + committed["test.csv"]]
    texts += [n["text"] for n in gen.generate_notes(50, seed=5)]
    big = "\n\n".join(texts)
    tokens = "\n".join(set(big.split()))
    for kind, pattern in TOKEN_PATTERNS.items():
        assert not pattern.search(tokens), f"{kind}: {pattern.findall(tokens)[:5]}"
    for kind, pattern in TEXT_PATTERNS.items():
        assert not pattern.search(big), f"{kind}: {pattern.findall(big)[:5]}"


def test_identifier_patterns_catch_what_they_should():
    samples = {"slash date": "seen 3/14/2021", "ISO date": "on 2021-03-14", "dotted or dashed date": "on 03.14.21",
               "year": "in 1987", "MRN-like digit run": "MRN 00123456", "email": "a.b@c.org",
               "month and day": "on March 3", "phone": "call 555-867-5309", "record label": "DOB unknown",
               "honorific and name": "per Dr. Smith"}
    for kind, text in samples.items():
        pattern = TOKEN_PATTERNS.get(kind) or TEXT_PATTERNS[kind]
        assert pattern.search(text), kind
    assert not TOKEN_PATTERNS["slash date"].search("BP 132/84, SpO2 95%")


def test_every_template_placeholder_resolves():
    notes = gen.generate_notes(200, seed=9)
    for n in notes:
        assert "{" not in n["text"] and "}" not in n["text"]
