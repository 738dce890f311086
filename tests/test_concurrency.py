"""Two runs at once. On the same model: the second is refused with a clear message, or with --wait
queues behind the first (its ledger entries come strictly after the first run's). Into the same
--out: the second is refused. On different models: both finish and the ledger chain stays intact."""
from __future__ import annotations

import json
import os
import shutil
import time

import pytest
from conftest import CLASS_WORDS, make_notes, write_csv
from proc_helpers import logs, resume, spawn, unlearn_argv, wait_paused
from tiny_models import make_tiny_classifier

from steu_core.cli import main
from steu_core.errors import ConfigError
from steu_core.ledger import Ledger
from steu_core.locks import holder, model_key, model_run_lock
from steu_core.model import hash_directory
from steu_core.runs import staging_dir


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("concurrency")
    rows = make_notes(12, seed=1)
    model = make_tiny_classifier("bert", d / "model", sorted(CLASS_WORDS))
    other = d / "model_b"
    shutil.copytree(model, other)
    return {"model": model, "other": other, "train": write_csv(d / "train.csv", rows),
            "eval": write_csv(d / "eval.csv", make_notes(6, seed=2))}


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("STEU_HOME", str(h))
    return h


def _argv(data, out, model=None, extra=()):
    return unlearn_argv(model or data["model"], data["train"], data["eval"], out, extra=extra)


def _finish(proc, timeout=300):
    proc.wait(timeout=timeout)
    o, e = logs(proc)
    assert proc.returncode == 0, f"{o}\n{e}"
    return o, e


def _run_entries(kind_filter=None):
    return [e for e in Ledger().entries() if kind_filter is None or e["kind"] == kind_filter]


def test_second_run_on_the_same_model_is_refused(data, home, tmp_path, capsys):
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    a = spawn(_argv(data, out_a), home, pause_at="select", log_dir=tmp_path)
    try:
        wait_paused(a, out_a, "select")
        code = main(_argv(data, out_b)[3:])
        err = capsys.readouterr().err
        assert code == 2
        assert f"another run on this model is in progress (process {a.pid}, writing '{out_a}'" in err
        assert "--wait" in err and "Traceback" not in err
        assert not out_b.exists() and not staging_dir(out_b).exists(), "the refused run wrote nothing"
        assert [e["kind"] for e in Ledger().entries()] == ["request"], "only A's request is on record"
    finally:
        resume(out_a)
    _finish(a)
    assert json.loads((out_a / "results.json").read_text())["param_diff_verdict"] == "pass"
    v = Ledger().verify()
    assert v.ok and v.n_entries == 2


def test_with_wait_the_second_run_queues_behind_the_first(data, home, tmp_path):
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    a = spawn(_argv(data, out_a), home, pause_at="select", log_dir=tmp_path)
    b = None
    try:
        wait_paused(a, out_a, "select")
        b = spawn(_argv(data, out_b, extra=["--wait", "240"]), home, log_dir=tmp_path)
        deadline = time.monotonic() + 120
        while "waiting up to 240 s" not in logs(b)[1]:
            assert b.poll() is None, logs(b)
            assert time.monotonic() < deadline, "B never said it was waiting"
            time.sleep(0.1)
        assert f"Another run on this model is in progress (process {a.pid})" in logs(b)[1]
        assert not staging_dir(out_b).exists(), "a queued run has not started writing"
    finally:
        resume(out_a)
    _finish(a)
    _finish(b)
    entries = Ledger().entries()
    assert Ledger().verify().ok and len(entries) == 4
    order = [(e["kind"], e["payload"]["run_id"]) for e in entries]
    assert order == [("request", "a"), ("run", "a"), ("request", "b"), ("run", "b")], "never interleaved"
    for out in (out_a, out_b):
        assert (out / "results.json").is_file() and not staging_dir(out).exists()


def test_wait_gives_up_after_the_timeout(data, home, tmp_path, capsys):
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    with model_run_lock(data["model"], out=out_a):  # this test process holds the model
        code = main(_argv(data, out_b, extra=["--wait", "0.5"])[3:])
    err = capsys.readouterr().err
    assert code == 2 and "this run was refused after waiting" in err
    assert not out_b.exists() and not staging_dir(out_b).exists()


def test_same_out_directory_twice_is_refused(data, home, tmp_path, capsys):
    out = tmp_path / "shared"
    a = spawn(_argv(data, out), home, pause_at="unlearn", log_dir=tmp_path)
    try:
        wait_paused(a, out, "unlearn")
        before = sorted(p.name for p in staging_dir(out).iterdir())
        code = main(_argv(data, out, model=data["other"])[3:])  # another model: the lock does not apply
        err = capsys.readouterr().err
        assert code == 2
        assert f"another run (process {a.pid}) is already writing '{out}'" in err
        assert sorted(p.name for p in staging_dir(out).iterdir()) == before, "A's staging untouched"
    finally:
        resume(out)
    _finish(a)
    r = json.loads((out / "results.json").read_text())
    assert r["model"]["path"] == str(data["model"]), "the finished run is A's alone"
    assert r["hashes"]["original_model"] == hash_directory(data["model"])["sha256"]


def test_runs_on_different_models_in_parallel_keep_the_ledger_intact(data, home, tmp_path):
    outs = [tmp_path / "p", tmp_path / "q"]
    procs = [spawn(_argv(data, outs[0]), home, log_dir=tmp_path),
             spawn(_argv(data, outs[1], model=data["other"]), home, log_dir=tmp_path)]
    for p in procs:
        _finish(p)
    ledger = Ledger()
    v = ledger.verify()
    assert v.ok and v.n_entries == 4
    requests = {e["payload"]["run_id"]: e for e in ledger.entries() if e["kind"] == "request"}
    runs = {e["payload"]["run_id"]: e for e in ledger.entries() if e["kind"] == "run"}
    assert set(requests) == set(runs) == {"p", "q"}
    for run_id in ("p", "q"):
        assert runs[run_id]["payload"]["outcome"] == "success"
        assert runs[run_id]["payload"]["request_entry"] == requests[run_id]["entry_hash"]
    for out in outs:
        assert (out / "results.json").is_file()


def test_lock_is_per_model_path_and_released(data, home, tmp_path):
    model = data["model"]
    link = tmp_path / "link_to_model"
    os.symlink(model, link)
    assert model_key(model) == model_key(link) == model_key(str(model) + "/")
    assert model_key(model) != model_key(data["other"])
    with model_run_lock(model, out=tmp_path / "x"):
        assert holder(model)["pid"] == os.getpid() and holder(model)["out"] == str(tmp_path / "x")
        with pytest.raises(ConfigError, match="another run on this model is in progress"):
            with model_run_lock(link, out=tmp_path / "y"):
                pass
        with model_run_lock(data["other"], out=tmp_path / "z"):  # another model: free
            pass
    with model_run_lock(model, out=tmp_path / "y"):  # released on exit
        pass
