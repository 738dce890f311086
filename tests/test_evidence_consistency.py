"""Evidence stays consistent with what is on disk: a claim of --out is atomic, a refused run leaves
nothing, a run whose outcome the ledger cannot take is not finished, a dead run's request is closed as
"abandoned" when its staging directory is reclaimed, and a report entry exists only for a PDF that is
there (an existing file is replaced only with --overwrite, which is recorded)."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures_results import make_results, make_run_dir, record_run
from proc_helpers import small_untrained_request, unlearn_argv

from steu_core import report
from steu_core.cli import main
from steu_core.errors import ConfigError
from steu_core.ledger import Ledger
from steu_core.ledger import store as ledger_store
from steu_core.model import file_sha256
from steu_core.runs import read_progress, record, staging_dir
from steu_core.runs.staging import Staging

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return small_untrained_request(tmp_path_factory.mktemp("evidence"))


def _unlearn(data, out, **kw) -> list[str]:
    return unlearn_argv(kw.get("model", data["model"]), data["train"], data["eval"], out,
                        forget_class=kw.get("forget_class", "substance"))[3:]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _race(base: Path, trials: int) -> list[tuple[str, str]]:
    """Two claim_helper processes claiming base/out-0 ... at once: each trial's (result a, result b)."""
    helper = [sys.executable, str(HERE / "claim_helper.py"), str(base), str(trials)]
    procs = [subprocess.Popen(helper + ["a", "b"]), subprocess.Popen(helper + ["b", "a"])]
    for p in procs:
        assert p.wait(timeout=600) == 0
    return [((base / f"result-{i}-a").read_text(), (base / f"result-{i}-b").read_text()) for i in range(trials)]


# -- claiming an output directory ----------------------------------------------------------------
def test_two_processes_claiming_one_out_exactly_one_wins_every_time(tmp_path):
    results = _race(tmp_path, 100)
    winners = [sum(r == "won" for r in pair) for pair in results]
    assert winners == [1] * 100, f"trials without exactly one winner: {[i for i, w in enumerate(winners) if w != 1]}"
    for pair in results:
        lost = next(r for r in pair if r != "won")
        assert "is already writing" in lost
    assert not list(tmp_path.glob(".out-*.claim-*")), "no fresh claim directory is left behind"


def test_two_processes_reclaiming_one_dead_run_one_wins_and_it_is_recorded_once(tmp_path):
    trials, dead = 25, _dead_pid()
    for i in range(trials):  # each out-i: the staging area of a run killed after its request was recorded
        req = Ledger().append("request", {"request_id": f"r{i}", "run_id": f"out-{i}"})
        stage = staging_dir(tmp_path / f"out-{i}")
        stage.mkdir()
        (stage / "progress.json").write_text(json.dumps(
            {"state": "running", "stage": "unlearn", "pid": dead, "request_entry": req["entry_hash"],
             "request_id": f"r{i}"}))
    results = _race(tmp_path, trials)
    assert [sum(r == "won" for r in pair) for pair in results] == [1] * trials
    closed = Ledger().find("run", outcome="abandoned")
    assert sorted(e["payload"]["run_id"] for e in closed) == sorted(f"out-{i}" for i in range(trials)), \
        "every dead run's request is closed exactly once"
    requests = {e["payload"]["run_id"]: e["entry_hash"] for e in Ledger().find("request")}
    assert all(e["payload"]["request_entry"] == requests[e["payload"]["run_id"]] for e in closed)
    assert Ledger().verify().ok


def test_a_live_claim_is_never_taken_and_a_fresh_claim_holds_progress_from_the_start(tmp_path):
    first = Staging(tmp_path / "out")
    first.claim()
    prog = read_progress(tmp_path / "out")
    assert prog["state"] == "running" and prog["stage"] == "start"
    with pytest.raises(ConfigError, match="is already writing"):
        Staging(tmp_path / "out").claim()
    assert read_progress(tmp_path / "out") == prog


# -- refused, unrecorded and abandoned runs -----------------------------------------------------
def test_a_refused_run_leaves_no_staging_directory(data, tmp_path, capsys):
    out = tmp_path / "refused"
    assert main(_unlearn(data, out, forget_class="no-such-class")) == 2
    assert "no-such-class" in capsys.readouterr().err
    empty_model = tmp_path / "not-a-model"
    empty_model.mkdir()
    assert main(_unlearn(data, tmp_path / "refused2", model=empty_model)) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-model"], "no .refused.partial/ left"
    assert len(Ledger()) == 0, "a refused run records nothing"


def test_a_run_the_ledger_cannot_record_is_not_finished(data, tmp_path, monkeypatch, capsys):
    out = tmp_path / "unrecorded"
    monkeypatch.setattr(ledger_store, "BUSY_TIMEOUT_S", 0.3)
    holder = {}
    real_run_entry = record.run_entry

    def busy_then_entry(*args, **kwargs):  # another process takes the ledger's write lock and keeps it
        con = sqlite3.connect(str(Ledger().path), isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        holder["con"] = con
        return real_run_entry(*args, **kwargs)

    monkeypatch.setattr(record, "run_entry", busy_then_entry)
    code = main(_unlearn(data, out))
    err = capsys.readouterr().err
    holder["con"].execute("ROLLBACK")
    holder["con"].close()
    assert code == 2
    assert "the ledger stayed busy" in err and "the run was not finished" in err and "internal error" not in err
    assert not out.exists(), "an unrecorded run is not presented as finished"
    assert read_progress(out)["state"] == "failed" and "ledger" in read_progress(out)["message"]
    assert [e["kind"] for e in Ledger().entries()] == ["request"], "no success was claimed"

    monkeypatch.setattr(record, "run_entry", real_run_entry)
    assert main(_unlearn(data, out)) == 0, capsys.readouterr().err
    assert (out / "results.json").is_file() and Ledger().entries()[-1]["payload"]["outcome"] == "success"


def _live_claim(out: Path) -> None:
    """Another process's claim of ``out`` placed now: a staging directory "running" under this (live) pid."""
    stage = staging_dir(out)
    stage.mkdir()
    (stage / "progress.json").write_text(json.dumps({"state": "running", "stage": "start", "pid": os.getpid()}))


def test_a_reclaim_puts_back_a_live_claim_that_replaced_the_dead_run_it_read(tmp_path, monkeypatch):
    # the window the two-process race found once under load: what was removed was not the run whose progress
    # was read but a new claim placed in between
    from steu_core.runs import staging

    out, dead = tmp_path / "out", _dead_pid()
    stage = staging_dir(out)
    stage.mkdir()
    (stage / "progress.json").write_text(json.dumps({"state": "running", "stage": "unlearn", "pid": dead}))
    read = staging.read_progress

    def dead_run_replaced_after_reading(o):
        progress = read(o)
        shutil.rmtree(stage)
        _live_claim(out)
        return progress

    monkeypatch.setattr(staging, "read_progress", dead_run_replaced_after_reading)
    abandoned = []
    Staging(out, on_abandoned=abandoned.append)._reclaim()
    assert json.loads((stage / "progress.json").read_text())["pid"] == os.getpid(), "the live claim is in place"
    assert [a["pid"] for a in abandoned] == [dead]
    assert not list(tmp_path.glob(".out.reclaimed-*"))


def test_a_dead_run_is_called_abandoned_and_recorded_so_when_reclaimed(data, tmp_path, capsys):
    out = tmp_path / "killed"
    req = Ledger().append("request", {"request_id": "REQ-9", "run_id": out.name})
    staging_dir(out).mkdir()
    (staging_dir(out) / "progress.json").write_text(json.dumps(
        {"state": "running", "stage": "unlearn", "pid": _dead_pid(), "request_entry": req["entry_hash"],
         "request_id": "REQ-9"}))
    assert main(["report", "--run", str(out), "--out", str(tmp_path / "r.pdf")]) == 2
    err = capsys.readouterr().err
    assert "was abandoned" in err and "still running" not in err

    assert main(_unlearn(data, out)) == 0, capsys.readouterr().err
    kinds = [(e["kind"], e["payload"].get("outcome")) for e in Ledger().entries()]
    assert kinds == [("request", None), ("run", "abandoned"), ("request", None), ("run", "success")]
    abandoned = Ledger().entries()[1]["payload"]
    assert abandoned["request_entry"] == req["entry_hash"] and abandoned["request_id"] == "REQ-9"
    assert abandoned["run_id"] == out.name and abandoned["stage"] == "unlearn"


# -- reports ------------------------------------------------------------------------------------
@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """A finished, recorded run; charts are skipped (every chart fails to render, the report still comes out)."""
    from steu_core import charts

    def no_charts(items, scale=2.0):
        raise RuntimeError("charts skipped in this test")

    monkeypatch.setattr(charts, "to_pngs", no_charts)
    monkeypatch.delenv("STEU_SIGNING_P12", raising=False)
    results = make_results()
    run = make_run_dir(tmp_path, results=results)
    record_run(run, results, request_entry=False)
    return run


def _report_entries() -> list[dict]:
    return Ledger().find("report")


@pytest.mark.parametrize("mode", [[], ["--overwrite"], ["--new-version"]])
def test_a_directory_as_report_out_is_refused_and_nothing_recorded(run_dir, tmp_path, capsys, mode):
    target = tmp_path / "reports"
    target.mkdir()
    assert main(["report", "--run", str(run_dir), "--out", str(target), *mode]) == 2
    assert "is an existing folder" in capsys.readouterr().err
    assert _report_entries() == [] and list(target.iterdir()) == []


def test_an_existing_report_file_is_replaced_only_with_overwrite_which_is_recorded(run_dir, tmp_path, capsys):
    out = tmp_path / "report.pdf"
    out.write_bytes(b"%PDF-1.4 a report handed out earlier\n")
    old_sha = file_sha256(out)
    assert main(["report", "--run", str(run_dir), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert file_sha256(out) == old_sha and _report_entries() == []
    assert main(["report", "--run", str(run_dir), "--out", str(out), "--overwrite"]) == 0
    [entry] = _report_entries()
    assert entry["payload"]["overwrote_sha256"] == old_sha
    assert entry["payload"]["pdf_sha256"] == file_sha256(out) != old_sha
    assert sorted(p.name for p in tmp_path.glob(".report*")) == [], "no temporary or kept copy is left"


def test_a_report_file_written_meanwhile_is_neither_clobbered_nor_recorded(run_dir, tmp_path, monkeypatch):
    from steu_core.report import pdf as report_pdf

    out = tmp_path / "report.pdf"
    real_sign = report_pdf.sign_pdf

    def sign_while_another_writes(*args, **kwargs):
        signed = real_sign(*args, **kwargs)
        out.write_bytes(b"another process's file")
        return signed

    monkeypatch.setattr(report_pdf, "sign_pdf", sign_while_another_writes)
    with pytest.raises(ConfigError, match="written by another process meanwhile"):
        report.build_report(run_dir, out)
    assert out.read_bytes() == b"another process's file"
    assert _report_entries() == [], "nothing is recorded for a PDF that is not there"


def test_when_recording_fails_the_pdf_is_taken_back_and_an_overwritten_file_restored(run_dir, tmp_path, monkeypatch):
    old, new = tmp_path / "old.pdf", tmp_path / "new.pdf"
    old.write_bytes(b"%PDF-1.4 the earlier report\n")
    real_append = Ledger.append

    def no_reports(self, kind, payload):
        if kind == "report":
            raise sqlite3.OperationalError("database is locked")
        return real_append(self, kind, payload)

    monkeypatch.setattr(Ledger, "append", no_reports)
    with pytest.raises(ConfigError, match="could not be recorded"):
        report.build_report(run_dir, old, if_exists="overwrite")
    assert old.read_bytes() == b"%PDF-1.4 the earlier report\n"
    with pytest.raises(ConfigError, match="could not be recorded"):
        report.build_report(run_dir, new)
    assert not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
