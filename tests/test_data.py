"""Loading and validating note files: every problem gets a DataError naming file, row and column."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from steu_core.data import check_forget_set, check_labels_known, load_notes, stratified_split, write_notes
from steu_core.errors import DataError


def _csv(tmp_path, text, name="notes.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_jsonl_parquet_same_content_same_hash(tmp_path):
    df = pd.DataFrame({"note_text": ["pt c/o SOB", "denies chest pain, EtOH socially"], "diagnosis": ["copd", "chf"]})
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    df.to_parquet(tmp_path / "a.parquet", index=False)
    sets = [load_notes(tmp_path / f"a.{ext}") for ext in ("csv", "jsonl", "parquet")]
    assert {s.sha256 for s in sets} == {sets[0].sha256}
    assert sets[0].text_column == "note_text" and sets[0].label_column == "diagnosis"
    assert sets[0].labels == ("copd", "chf")


def test_configured_column_names(tmp_path):
    p = _csv(tmp_path, "body_x,y_lab\nfirst note,a\nsecond note,b\n")
    notes = load_notes(p, text_column="body_x", label_column="y_lab")
    assert notes.texts == ("first note", "second note")


def test_numeric_labels_become_strings(tmp_path):
    p = tmp_path / "n.jsonl"
    p.write_text("\n".join(json.dumps({"text": f"note {i}", "label": i % 2 + 1}) for i in range(4)))
    assert set(load_notes(p).labels) == {"1", "2"}


@pytest.mark.parametrize("content,expect", [
    (None, "file not found"),
    ("", "empty"),
    ("text,label\n", "no rows"),
    ("words,cls\nhello,a\n", "no text column"),
    ("text,cls\nhello,a\n", "no label column"),
    ("text,label\n   ,a\n", "note text is empty"),
    ("text,label\nhello,\n", "label is missing"),
    ("text;label\nhello;a\n", "separated by ';'"),
])
def test_bad_csv_files(tmp_path, content, expect):
    p = tmp_path / "bad.csv"
    if content is not None:
        p.write_text(content)
    with pytest.raises(DataError) as err:
        load_notes(p)
    assert expect in str(err.value)


def test_error_names_row_and_column(tmp_path):
    p = _csv(tmp_path, "text,label\nok note,a\nanother,b\n  ,c\n")
    with pytest.raises(DataError) as err:
        load_notes(p)
    assert err.value.row == 3 and err.value.column == "text" and err.value.file == "notes.csv"
    assert "row 3" in str(err.value) and "'text'" in str(err.value)


def test_unknown_format_and_undecodable_bytes(tmp_path):
    with pytest.raises(DataError, match="unknown file type"):
        load_notes(_csv(tmp_path, "x", name="notes.xlsx"))
    p = tmp_path / "latin.csv"
    p.write_bytes("text,label\ncaf\u00e9 note,a\n".encode("latin-1"))
    with pytest.raises(DataError, match="not valid UTF-8.*line 2"):
        load_notes(p)
    z = tmp_path / "zip.csv"
    z.write_bytes(b"PK\x03\x04" + b"\x00" * 50)
    with pytest.raises(DataError, match="ZIP"):
        load_notes(z)


def test_label_checks(tmp_path):
    notes = load_notes(_csv(tmp_path, "text,label\nn1,a\nn2,zebra\n"))
    with pytest.raises(DataError, match="the label \\(5 characters, not shown\\) is not one of the model's labels") as err:
        check_labels_known(notes, ["a", "b"])
    assert err.value.row == 2 and "zebra" not in str(err.value)
    spaced = load_notes(_csv(tmp_path, "text,label\nn1,a\nn2, B \n"))
    with pytest.raises(DataError, match="differs from the model's label 'b' only in case or spaces"):
        check_labels_known(spaced, ["a", "b"])


def test_forget_set_checks(tmp_path):
    mixed = load_notes(_csv(tmp_path, "text,label\nn1,sud\nn2,copd\n"))
    with pytest.raises(DataError, match="class 'copd', not the forget class 'sud'") as err:
        check_forget_set(mixed, "sud", 1)
    assert err.value.row == 2
    few = load_notes(_csv(tmp_path, "text,label\nn1,sud\nn2,sud\n", name="few.csv"))
    with pytest.raises(DataError, match="fewer than the minimum of 5"):
        check_forget_set(few, "sud", 5)
    check_forget_set(few, "sud", 2)


def test_duplicates_are_counted_and_split_is_stratified(tmp_path):
    rows = "\n".join(f"note {i % 10},{'ab'[i % 2]}" for i in range(40))
    notes = load_notes(_csv(tmp_path, "text,label\n" + rows + "\n"))
    assert notes.duplicate_rows == 30
    tr, te = stratified_split(notes, 0.25, seed=0)
    assert len(tr) == 30 and len(te) == 10 and te.label_counts == {"a": 5, "b": 5}
    assert stratified_split(notes, 0.25, seed=0)[1].texts == te.texts
    write_notes(te, tmp_path / "te.parquet")
    assert load_notes(tmp_path / "te.parquet").sha256 == te.sha256
