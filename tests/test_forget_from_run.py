"""A finished run's forget set found again in the training file by the hashes of its notes
(steu_core/runs/forget_index.py): a comparison after a request needs no second upload of the forget file."""
from __future__ import annotations

import csv
import json
import stat

import pytest

from steu_core.data import load_notes
from steu_core.errors import ConfigError, DataError
from steu_core.request import CompareRequest, UnlearnRequest
from steu_core.runs import run_unlearning
from steu_core.runs.forget_index import INDEX_FILE, forget_from_run
from steu_core.runs.prepare import prepare_data


@pytest.fixture(scope="module")
def finished_run(tiny_data, tiny_bert, tmp_path_factory):
    out = tmp_path_factory.mktemp("from_run") / "run"
    return run_unlearning(UnlearnRequest(train=str(tiny_data["train"]), eval=str(tiny_data["eval"]),
                                         forget=str(tiny_data["forget"]), forget_class="substance", out=out,
                                         model=str(tiny_bert), device="cpu", max_length=48,
                                         settings={"max_steps": 3, "min_df": 2}, record_ledger=False))


def test_a_run_keeps_its_forget_notes_hashes_owner_only_and_outside_its_evidence(finished_run, tiny_data):
    index = json.loads((finished_run / INDEX_FILE).read_text())
    forget = load_notes(tiny_data["forget"])
    assert len(index["note_sha256"]) == len(forget) and index["forget_class"] == "substance"
    assert stat.S_IMODE((finished_run / INDEX_FILE).stat().st_mode) == 0o600
    results = (finished_run / "results.json").read_text()
    assert not any(h in results for h in index["note_sha256"]), "results.json carries no note's hash"


def test_the_forget_set_is_found_again_in_the_training_file(finished_run, tiny_data, tiny_bert, tmp_path):
    from steu_core.model import load_classifier

    train, forget = load_notes(tiny_data["train"]), load_notes(tiny_data["forget"])
    again = forget_from_run(finished_run, train, "substance")
    assert again.texts == forget.texts and again.sha256 == forget.sha256
    req = UnlearnRequest(train=str(tiny_data["train"]), eval=str(tiny_data["eval"]), forget_class="substance",
                         out=tmp_path / "second", forget_from_run=str(finished_run), device="cpu", max_length=48)
    req.validate()
    data = prepare_data(req, load_classifier(tiny_bert, device="cpu"))
    assert data.forget.texts == forget.texts and data.members.all()
    assert data.forget_source == {"given_by": "run", "run": finished_run.name, "notes": len(forget),
                                  "same_content_as_run": True}
    cmp = CompareRequest(train=str(tiny_data["train"]), eval=str(tiny_data["eval"]), forget_class="substance",
                         out=tmp_path / "cmp", forget_from_run=str(finished_run), methods=["head_only"])
    assert cmp.unlearn_request("head_only", tmp_path / "x").forget_from_run == str(finished_run)
    assert "--forget-from-run" in cmp.to_argv()


def test_what_cannot_be_found_again_is_refused_with_what_to_do(finished_run, tiny_data, tmp_path):
    train = load_notes(tiny_data["train"])
    with pytest.raises(ConfigError, match="another class"):
        forget_from_run(finished_run, train, train.labels[0] if train.labels[0] != "substance" else "cardiac")
    # a training file without some of the run's notes: the forget set would not be the run's
    rows = [r for r in csv.reader(open(tiny_data["train"], newline="", encoding="utf-8"))]
    kept = [rows[0]] + [r for r in rows[1:] if r[1] != "substance"] + [r for r in rows[1:] if r[1] == "substance"][1:]
    other = tmp_path / "train-missing-one.csv"
    with open(other, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(kept)
    with pytest.raises(DataError, match="1 of the .* forget notes of run .* are not in the training file") as err:
        forget_from_run(finished_run, load_notes(other), "substance")
    assert "training file that run used" in err.value.hint
    with pytest.raises(ConfigError, match="not a finished run"):
        forget_from_run(tmp_path / "nowhere", train, "substance")
    (finished_run.parent / "old-run").mkdir()
    (finished_run.parent / "old-run" / "results.json").write_text("{}")
    with pytest.raises(DataError, match="kept no hashes of its forget notes") as err:
        forget_from_run(finished_run.parent / "old-run", train, "substance")
    assert "--forget" in err.value.hint


def test_the_forget_set_is_given_one_way_only(tiny_data, tmp_path):
    req = UnlearnRequest(train=str(tiny_data["train"]), eval=str(tiny_data["eval"]), forget_class="substance",
                         out=tmp_path / "r", forget=str(tiny_data["forget"]), forget_from_run="run-x")
    with pytest.raises(ConfigError, match="one way only"):
        req.validate()
