"""Every run the data directory's ledger records as finished is listed, wherever its directory is
(steu_core/runs/listing.py): the ledger records where each run was written, and a run whose directory is
gone is listed saying so."""
from __future__ import annotations

import json
import shutil

from fixtures_results import make_results, make_run_dir

from steu_core.cli import main
from steu_core.ledger import Ledger
from steu_core.paths import runs_dir
from steu_core.runs import UnlearnRequest, list_runs, location, run_unlearning

FAST = {"max_steps": 20, "lr_rows": 0.05, "lr_head": 0.02, "min_df": 2, "k": 4}


def _unlearn(model, tiny_data, out):
    return run_unlearning(UnlearnRequest(model=str(model), train=tiny_data["train"], eval=tiny_data["eval"],
                                         forget_class=tiny_data["forget_class"], out=out, settings=FAST,
                                         device="cpu", max_length=48, min_forget=5, request_id="REQ-ELSEWHERE"))


def test_a_run_written_elsewhere_is_listed_through_the_ledger_and_says_when_it_is_gone(tiny_bert, tiny_data,
                                                                                        tmp_path, capsys):
    out = _unlearn(tiny_bert, tiny_data, tmp_path / "elsewhere" / "sud-request-17")
    entries = Ledger().entries()
    assert [e["payload"]["run_dir"] for e in entries] == [str(out), str(out)]  # request and run entries
    rows = list_runs()
    assert [(r["run_id"], r["path"], r["missing"]) for r in rows] == [("sud-request-17", str(out), None)]
    assert rows[0]["request_id"] == "REQ-ELSEWHERE" and rows[0]["forget_f1_after"] is not None
    assert location(rows[0]) == str(out)
    assert main(["runs"]) == 0 and str(out) in capsys.readouterr().out

    shutil.move(str(out), str(tmp_path / "moved"))
    gone = list_runs()
    assert len(gone) == 1 and gone[0]["run_id"] == "sud-request-17" and gone[0]["forget_f1_after"] is None
    assert gone[0]["missing"] == f"its directory {out} is gone (moved or deleted)"
    assert gone[0]["method"] == "steu" and gone[0]["forget_class"] == "substance" and gone[0]["verdict"]
    assert main(["runs"]) == 0 and "is gone (moved or deleted)" in capsys.readouterr().out


def _run_at(path, run_id):
    """A finished run directory at ``path`` whose results.json names ``run_id``."""
    return make_run_dir(path.parent, path.name, make_results(run_id=run_id))


def _recorded(path, run_id, **payload):
    """A finished run directory at ``path`` and a "run" entry for it (the ledger's shape, few fields)."""
    run = _run_at(path, run_id)
    Ledger().append("run", {"run_id": run_id, "outcome": "success", "verdict": "No", **payload})
    return run


def test_the_data_directory_s_runs_come_once_and_unplaceable_or_replaced_runs_say_why(tmp_path):
    home_run = _recorded(runs_dir() / "run-home", "run-home", run_dir=str(runs_dir() / "run-home"))
    _recorded(tmp_path / "other", "run-other", run_dir=str(tmp_path / "imposter"))
    _run_at(tmp_path / "imposter", "someone-else")
    Ledger().append("run", {"run_id": "run-old", "outcome": "success", "verdict": "Yes"})  # an earlier version's
    Ledger().append("run", {"run_id": "run-failed", "outcome": "failed", "run_dir": str(tmp_path / "x")})
    rows = {r["run_id"]: r for r in list_runs()}
    assert set(rows) == {"run-home", "run-other", "run-old"}  # a failed run is no finished run
    assert rows["run-home"]["missing"] is None and location(rows["run-home"]) == "data directory"
    assert rows["run-home"]["path"] == str(home_run)
    assert rows["run-other"]["missing"] == f"its directory {tmp_path / 'imposter'} holds another run"
    assert "does not say where it was written" in rows["run-old"]["missing"]
    assert rows["run-old"]["verdict"] == "Yes"
    assert location(rows["run-old"]).startswith("not found: ")


def test_the_newest_entry_of_a_run_counts(tmp_path):
    staged = tmp_path / ".cmp.partial" / "steu"  # a comparison's method, recorded where it ran, then rejudged
    final = _run_at(tmp_path / "cmp" / "steu", "steu")
    Ledger().append("run", {"run_id": "steu", "outcome": "success", "run_dir": str(staged)})
    assert list_runs()[0]["missing"]
    Ledger().append("run", {"run_id": "steu", "outcome": "success", "run_dir": str(final)})
    assert [(r["path"], r["missing"]) for r in list_runs()] == [(str(final), None)]
    Ledger().append("run", {"run_id": "steu", "outcome": "cancelled", "run_dir": str(final)})
    assert list_runs() == []


def test_an_unreadable_ledger_still_lists_the_data_directory_s_runs(tmp_path):
    _run_at(runs_dir() / "run-a", "run-a")
    Ledger().path.write_bytes(b"not a database at all" * 100)
    assert [r["run_id"] for r in list_runs()] == ["run-a"]
    assert json.loads((runs_dir() / "run-a" / "results.json").read_text())["run_id"] == "run-a"
