"""kill -9 the CLI at known points of a run (STEU_TEST_PAUSE_AT makes them reachable every time), then
check what is left: the original model byte-identical, nothing visible as a finished run, the ledger
chain intact with no success claimed, the model's run lock released, and the same request, rerun,
succeeding after recording the dead run as abandoned."""
from __future__ import annotations

import json

import pytest
from conftest import CLASS_WORDS, make_notes, write_csv
from proc_helpers import kill9, spawn, unlearn_argv, wait_paused
from tiny_models import make_tiny_classifier

from steu_core.cli import main
from steu_core.errors import ConfigError
from steu_core.ledger import Ledger
from steu_core.model import file_sha256, hash_directory
from steu_core.runs import list_runs, load_results, pid_alive, read_progress, staging_dir


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("crash")
    rows = make_notes(12, seed=1)
    return {"model": make_tiny_classifier("bert", d / "model", sorted(CLASS_WORDS)),
            "train": write_csv(d / "train.csv", rows), "eval": write_csv(d / "eval.csv", make_notes(6, seed=2))}


# What is on disk when each point is reached (checked before the kill, so each point is what it claims).
POINTS = {
    "select": {"in_staging": {"progress.json"}},
    "unlearn": {"in_staging": {"progress.json"}},
    "save": {"in_staging": {"progress.json", "model"}},
    "finish": {"in_staging": {"progress.json", "model", "patch.safetensors", "manifest.json", "results.json",
                          "forget-notes.json"}},
}


@pytest.mark.parametrize("point", list(POINTS))
def test_kill9_leaves_nothing_finished_and_rerun_succeeds(point, data, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("STEU_HOME", str(home))
    model = data["model"]
    files_before = {p.name: file_sha256(p) for p in model.iterdir()}
    tree_before = hash_directory(model)
    out = home / "runs" / f"run-{point}"
    argv = unlearn_argv(model, data["train"], data["eval"], out)

    proc = spawn(argv, home, pause_at=point, log_dir=tmp_path)
    prog = wait_paused(proc, out, point)
    assert prog["state"] == "running" and prog["pid"] == proc.pid
    if point == "unlearn":
        assert prog["step"] >= 1 and prog.get("losses"), "paused mid-training, after an optimiser step"
    assert {p.name for p in staging_dir(out).iterdir()} == POINTS[point]["in_staging"]
    kill9(proc)

    # 1. the original model: every file byte-identical, no file added or removed
    assert {p.name: file_sha256(p) for p in model.iterdir()} == files_before
    assert hash_directory(model) == tree_before
    # 2. nothing visible as finished
    assert not out.exists()
    with pytest.raises(ConfigError, match="not a finished run"):
        load_results(out)
    assert [r for r in list_runs() if r["path"] == str(out)] == []
    left = read_progress(out)
    assert left is not None and left["state"] == "running" and not pid_alive(left["pid"]), \
        "the staging area says 'running' by a dead process: readers can tell it is abandoned"
    # 3. the ledger: chain intact, the request on record, no run outcome claimed
    ledger = Ledger()
    assert ledger.verify().ok
    entries = ledger.entries()
    assert [e["kind"] for e in entries] == ["request"]
    assert entries[0]["payload"]["run_id"] == out.name

    # 4. the same request again: the dead run's staging area is reclaimed, and the model's run lock
    #    was released by the operating system with the killed process (else: 'another run ...')
    code = main(argv[3:])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    r = json.loads((out / "results.json").read_text())
    assert r["hashes"]["original_model"] == tree_before["sha256"]
    assert r["param_diff_verdict"] == "pass"
    assert not staging_dir(out).exists()
    assert sorted(p.name for p in out.iterdir()) == ["forget-notes.json", "manifest.json", "model", "patch.safetensors",
                                                       "results.json"]
    verdict = Ledger().verify()
    assert verdict.ok and verdict.n_entries == 4
    closed = Ledger().entries()[1]  # reclaiming the dead run's staging closed its request
    assert closed["kind"] == "run" and closed["payload"]["outcome"] == "abandoned"
    assert closed["payload"]["request_entry"] == entries[0]["entry_hash"] and closed["payload"]["stage"]
    last = Ledger().entries()[-1]
    assert last["kind"] == "run" and last["payload"]["outcome"] == "success" and last["payload"]["run_id"] == out.name
    assert hash_directory(model) == tree_before


def test_pause_hook_is_inert_without_the_variable(data, tmp_path, monkeypatch, capsys):
    """Without STEU_TEST_PAUSE_AT the run never waits and never leaves the hook's marks."""
    monkeypatch.delenv("STEU_TEST_PAUSE_AT", raising=False)
    out = tmp_path / "run"
    argv = unlearn_argv(data["model"], data["train"], data["eval"], out)
    assert main(argv[3:]) == 0, capsys.readouterr().err
    assert not (out / "RESUME").exists() and not (out / "progress.json").exists()
