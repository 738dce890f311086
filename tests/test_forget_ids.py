"""A forget set given by ids of training notes, and a forget file without a label column."""
from __future__ import annotations

import csv
import json

import pytest

from steu_core.cli import build_parser
from steu_core.data import load_notes
from steu_core.errors import ConfigError, DataError
from steu_core.forget_ids import file_columns, guess_columns, read_ids
from steu_core.model import load_classifier
from steu_core.request import UnlearnRequest
from steu_core.runs import load_request_data
from steu_core.runs.prepare import prepare_data, request_warnings


def _with_ids(tiny_data, tmp_path, column="note_id"):
    """The tiny training file with an id column (N-<row>), and those ids of its forget-class notes."""
    rows = list(csv.DictReader(open(tiny_data["train"], newline="")))
    path = tmp_path / "train_ids.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([column, "text", "label"])
        w.writerows([f"N-{i + 1}", r["text"], r["label"]] for i, r in enumerate(rows))
    wanted = [f"N-{i + 1}" for i, r in enumerate(rows) if r["label"] == tiny_data["forget_class"]]
    return path, wanted


def _ids_file(path, ids, header="note_id"):
    path.write_text((f"{header}\n" if header else "") + "\n".join(ids) + "\n")
    return path


def _req(tiny_data, train, **kw):
    return UnlearnRequest(**{"train": str(train), "eval": str(tiny_data["eval"]), "forget_class": "substance",
                             "out": "", "min_forget": 5, **kw})


@pytest.fixture(scope="module")
def clf(tiny_bert):
    return load_classifier(tiny_bert, device="cpu")


def test_ids_give_the_same_forget_set_as_the_texts(tiny_data, tmp_path, clf):
    train, wanted = _with_ids(tiny_data, tmp_path)
    ids = _ids_file(tmp_path / "forget_ids.csv", wanted)
    by_ids = load_request_data(_req(tiny_data, train, forget_ids=str(ids)), clf)[2]
    by_text = load_request_data(_req(tiny_data, train, forget=str(tiny_data["forget"])), clf)[2]
    assert by_ids.sha256 == by_text.sha256 and len(by_ids) == len(wanted)


def test_unknown_ids_are_counted_and_the_first_few_shown(tiny_data, tmp_path, clf):
    train, wanted = _with_ids(tiny_data, tmp_path)
    ids = _ids_file(tmp_path / "ids.csv", wanted[:10] + [f"X-{i}" for i in range(7)])
    with pytest.raises(DataError) as err:
        load_request_data(_req(tiny_data, train, forget_ids=str(ids)), clf)
    msg = str(err.value)
    assert "7 of 17 id(s) are not in the training file" in msg
    assert "'X-0', 'X-1', 'X-2', 'X-3', 'X-4' and 2 more" in msg and "X-5" not in msg


def test_duplicate_ids_are_dropped_with_a_warning_and_recorded(tiny_data, tmp_path, clf):
    train, wanted = _with_ids(tiny_data, tmp_path)
    ids = _ids_file(tmp_path / "ids.txt", wanted + wanted[:3], header=None)  # .txt: one id per line, no header
    data = prepare_data(_req(tiny_data, train, forget_ids=str(ids)), clf)
    assert len(data.forget) == len(wanted)
    assert data.forget_source["given_by"] == "ids"
    assert data.forget_source["ids_file"]["duplicates_dropped"] == 3
    assert data.forget_source["ids_file"]["sha256"] == __import__("hashlib").sha256(ids.read_bytes()).hexdigest()
    assert any("names 3 id(s) more than once" in w for w in request_warnings(data))


def test_ids_of_another_class_are_refused_by_the_class_check(tiny_data, tmp_path, clf):
    train, wanted = _with_ids(tiny_data, tmp_path)
    rows = list(csv.DictReader(open(tiny_data["train"], newline="")))
    others = [f"N-{i + 1}" for i, r in enumerate(rows) if r["label"] == "cardiac"][:2]
    with pytest.raises(DataError, match="a note of class 'cardiac', not the forget class"):
        load_request_data(_req(tiny_data, train, forget_ids=str(_ids_file(tmp_path / "ids.csv", wanted + others))), clf)


def test_an_ids_csv_without_a_header_is_refused_not_missing_its_first_id(tiny_data, tmp_path, clf):
    train, wanted = _with_ids(tiny_data, tmp_path)
    ids = _ids_file(tmp_path / "ids.csv", wanted, header=None)
    with pytest.raises(DataError, match="has no header line"):
        load_request_data(_req(tiny_data, train, forget_ids=str(ids)), clf)


def test_a_training_file_without_an_id_column_says_to_name_it(tiny_data, tmp_path, clf):
    ids = _ids_file(tmp_path / "ids.csv", ["1", "2"])
    with pytest.raises(DataError, match="no id column found") as err:
        load_request_data(_req(tiny_data, tiny_data["train"], forget_ids=str(ids)), clf)
    assert "--id-column" in err.value.hint


def test_the_id_column_is_named_and_must_name_each_note_once(tiny_data, tmp_path, clf):
    train, wanted = _with_ids(tiny_data, tmp_path, column="mrn_copy")
    ids = _ids_file(tmp_path / "ids.csv", wanted, header="mrn_copy")
    assert len(load_request_data(_req(tiny_data, train, forget_ids=str(ids), id_column="mrn_copy"), clf)[2]) == len(wanted)
    with pytest.raises(DataError, match="names two notes"):  # the label column is no id column
        load_request_data(_req(tiny_data, train, forget_ids=str(ids), id_column="label"), clf)


def test_a_forget_file_without_a_label_column_takes_the_requested_class(tiny_data, tmp_path, clf):
    texts = [r["text"] for r in csv.DictReader(open(tiny_data["forget"], newline=""))]
    path = tmp_path / "forget_texts.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([["note"]] + [[t] for t in texts])
    forget = load_request_data(_req(tiny_data, tiny_data["train"], forget=str(path)), clf)[2]
    assert forget.labels == ("substance",) * len(texts)
    assert forget.sha256 == load_notes(tiny_data["forget"]).sha256  # the same notes, the same class


def test_no_label_column_can_be_chosen_although_one_is_detected(tiny_data, tmp_path, clf):
    req = _req(tiny_data, tiny_data["train"], forget=str(tiny_data["forget"]), forget_label_column="-")
    assert set(load_request_data(req, clf)[2].labels) == {"substance"}


def test_columns_are_detected_for_the_picker(tiny_data, tmp_path):
    train, _ = _with_ids(tiny_data, tmp_path)
    assert guess_columns(file_columns(train)) == {"text": "text", "label": "label", "id": "note_id"}
    assert guess_columns(["words"]) == {"text": None, "label": None, "id": None}


def test_an_ids_file_with_several_columns_needs_an_id_column(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="none is the id column"):
        read_ids(path)


def test_the_cli_takes_forget_ids_and_refuses_both_kinds(tiny_data, tmp_path):
    args = build_parser().parse_args(["unlearn", "--train", "t.csv", "--eval", "e.csv", "--forget-class", "x",
                                      "--out", str(tmp_path / "o"), "--forget-ids", "ids.csv", "--id-column", "mrn"])
    req = UnlearnRequest.from_args(args)
    assert (req.forget_ids, req.id_column) == ("ids.csv", "mrn")
    with pytest.raises(ConfigError, match="one way only"):
        UnlearnRequest(**{**req.__dict__, "forget": "f.csv"}).validate()
    with pytest.raises(ConfigError, match="give --forget-ids"):
        UnlearnRequest(**{**req.__dict__, "forget_ids": None}).validate()


def test_a_run_records_that_the_forget_set_was_given_by_ids(tiny_data, tiny_bert, tmp_path):
    from steu_core.runs import run_unlearning

    train, wanted = _with_ids(tiny_data, tmp_path)
    ids = _ids_file(tmp_path / "ids.csv", wanted)
    out = run_unlearning(_req(tiny_data, train, forget_ids=str(ids), model=str(tiny_bert), out=tmp_path / "run",
                              device="cpu", max_length=48, settings={"max_steps": 3, "min_df": 2},
                              record_ledger=False))
    r = json.loads((out / "results.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    digest = __import__("hashlib").sha256(ids.read_bytes()).hexdigest()
    assert r["data"]["forget_source"] == {"given_by": "ids", "ids_file": {
        "name": "ids.csv", "sha256": digest, "column": "note_id", "ids": len(wanted), "duplicates_dropped": 0}}
    assert manifest["forget_set"]["file_sha256"] == digest and r["data"]["forget"]["rows"] == len(wanted)
    # the report and the presentation carry the ids file's own hash, the one `sha256sum ids.csv` gives
    from steu_core.report.content import _data
    from steu_core.report.slides import evidence_slide

    assert _data(r)["ids_file"]["sha256"] == digest
    assert ("Ids file ids.csv (its bytes)", digest, True) in evidence_slide(r, None)["blocks"][0]["rows"]


def test_an_id_named_four_times_counts_as_one_duplicate(tiny_data, tmp_path, clf):
    train, wanted = _with_ids(tiny_data, tmp_path)
    ids = _ids_file(tmp_path / "ids.txt", wanted + [wanted[0]] * 3, header=None)
    data = prepare_data(_req(tiny_data, train, forget_ids=str(ids)), clf)
    assert data.forget_source["ids_file"]["duplicates_dropped"] == 1
    assert any("names 1 id(s) more than once" in w for w in request_warnings(data))


def test_an_empty_id_cell_in_the_training_file_is_refused(tiny_data, tmp_path, clf):
    train, wanted = _with_ids(tiny_data, tmp_path)
    rows = list(csv.DictReader(open(train, newline="")))
    rows[4]["note_id"] = "  "
    with open(train, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    ids = _ids_file(tmp_path / "ids.csv", [v for v in wanted if v != "N-5"])
    with pytest.raises(DataError, match=r"1 training note\(s\) have an empty id \(note row\(s\) 5\)"):
        load_request_data(_req(tiny_data, train, forget_ids=str(ids)), clf)


def test_ids_are_compared_as_text_and_a_leading_zero_mismatch_is_named(tiny_data, tmp_path, clf):
    train, wanted = _with_ids(tiny_data, tmp_path)
    rows = list(csv.DictReader(open(train, newline="")))
    for i, r in enumerate(rows, 1):
        r["note_id"] = str(i)
    with open(train, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    numbers = [str(i) for i, r in enumerate(rows, 1) if r["label"] == "substance"]
    ids = _ids_file(tmp_path / "ids.csv", [n.zfill(3) for n in numbers])
    with pytest.raises(DataError, match=r"compared as text: '0*\d+' in the ids file is not '\d+'"):
        load_request_data(_req(tiny_data, train, forget_ids=str(ids)), clf)
    whole = _ids_file(tmp_path / "whole.csv", [f"{n}.0" for n in numbers])  # 3.0 is 3 (a float column)
    assert len(prepare_data(_req(tiny_data, train, forget_ids=str(whole)), clf).forget) == len(numbers)
