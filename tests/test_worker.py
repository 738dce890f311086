"""steu_core.worker: runs in a separate process, read back from files (status, discovery, cancel)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steu_core import worker
from steu_core.errors import ConfigError
from steu_core.paths import runs_dir
from steu_core.runs import CANCEL_FILE, UnlearnRequest, staging_dir


def _stage(run_id: str, **progress) -> Path:
    out = runs_dir() / run_id
    st = staging_dir(out)
    st.mkdir(parents=True)
    (st / "progress.json").write_text(json.dumps({"state": "running", "stage": "unlearn", "step": 3, "total": 10,
                                                  "losses": {"loss": 1.5}, "elapsed_s": 4.0, **progress}))
    return out


def _sleeper() -> subprocess.Popen:
    """A live process whose command line names steu_core, like a real worker (no model needed)."""
    return subprocess.Popen([sys.executable, "-c", "import time  # steu_core\ntime.sleep(120)"],
                            start_new_session=True)


def test_build_command_carries_every_field_and_no_text(tmp_path):
    req = UnlearnRequest(train="t.csv", eval="e.csv", forget="f.csv", forget_class="substance", out=tmp_path / "r",
                         model="/m", settings={"k": 5, "max_steps": 7}, seed=3, device="cpu", request_id="REQ-1",
                         requester="Privacy office", reason="patient request", operator="ana", use_cache=False)
    cmd = worker.build_command(req)
    assert cmd[:4] == [sys.executable, "-m", "steu_core", "unlearn"]
    args = dict(zip(cmd[4::1], cmd[5::1]))
    assert args["--forget"] == "f.csv" and args["--forget-class"] == "substance" and args["--seed"] == "3"
    assert json.loads(args["--settings"]) == {"k": 5, "max_steps": 7}
    assert args["--requester"] == "Privacy office" and args["--operator"] == "ana"
    assert "--quiet" in cmd and "--no-cache" in cmd and "--allow-pickle" not in cmd


def test_status_reads_progress_and_spots_a_dead_worker():
    live = _stage("run-live", pid=os.getpid(), activity="checking the stopping rule on the 240 forget notes")
    s = worker.status(live)
    assert (s.state, s.stage, s.step, s.total, s.losses) == ("running", "unlearn", 3, 10, {"loss": 1.5})
    assert s.active and s.fraction == pytest.approx(0.3)
    assert s.activity == "checking the stopping rule on the 240 forget notes" and "activity" not in s.detail

    dead_proc = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_proc.wait()
    dead = _stage("run-dead", pid=dead_proc.pid)
    s = worker.status(dead)
    assert s.state == "failed" and "ended unexpectedly" in s.message

    failed = _stage("run-failed", state="failed", message="file 'f.csv', row 3: the label is missing")
    s = worker.status(failed)
    assert s.state == "failed" and s.message.startswith("file 'f.csv', row 3")

    assert worker.status("run-nowhere").state == "missing"
    assert [a.run_id for a in worker.active_runs()] == ["run-live"]
    assert sorted(u.run_id for u in worker.unfinished_runs()) == ["run-dead", "run-failed"]


def test_status_of_a_finished_run(tmp_path):
    out = runs_dir() / "run-done"
    out.mkdir()
    (out / "results.json").write_text("{}")
    assert worker.status(out).state == "finished"
    assert worker.status("run-done").state == "finished"  # a bare run id is looked up in the data directory
    assert not worker.cancel(out)


def test_a_zombie_child_counts_as_ended():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    for _ in range(100):  # exited, not yet reaped: os.kill(pid, 0) still succeeds
        if Path(f"/proc/{proc.pid}/stat").exists() and worker.is_zombie(proc.pid):
            break
        time.sleep(0.05)
    if not Path("/proc").is_dir():
        pytest.skip("no /proc on this system")
    assert worker.is_zombie(proc.pid)
    assert not worker.process_alive(proc.pid)
    proc.wait()


def test_cancel_asks_a_running_run_to_stop():
    out = _stage("run-c", pid=os.getpid())
    assert worker.cancel(out)
    assert (staging_dir(out) / CANCEL_FILE).exists()
    assert worker.status(out).cancel_requested


def test_force_cancel_stops_the_process_and_clears_partial_files():
    proc = _sleeper()
    try:
        out = _stage("run-f", pid=proc.pid)
        (staging_dir(out) / "model").mkdir()
        (staging_dir(out) / "model" / "weights.bin").write_bytes(b"x")
        assert worker.status(out).state == "running"
        assert worker.cancel(out, force=True)
        assert proc.wait(timeout=10) is not None
        s = worker.status(out)
        assert s.state == "cancelled"
        assert sorted(p.name for p in staging_dir(out).iterdir()) == ["progress.json"]
        assert not out.exists()
        assert worker.discard(out) and not staging_dir(out).exists()
    finally:
        proc.kill()


def test_force_cancel_closes_the_request_in_the_ledger():
    """The stopped process cannot write its own outcome: the cancel writes "cancelled" for it."""
    from steu_core.ledger import Ledger

    request = Ledger().append("request", {"request_id": "REQ-9", "run_id": "run-g"})
    proc = _sleeper()
    try:
        out = _stage("run-g", pid=proc.pid, request_entry=request["entry_hash"], request_id="REQ-9")
        assert worker.cancel(out, force=True)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    last = Ledger().entries()[-1]
    assert last["kind"] == "run" and last["payload"]["outcome"] == "cancelled"
    assert last["payload"]["request_entry"] == request["entry_hash"] and last["payload"]["run_id"] == "run-g"


def test_a_run_still_starting_is_found_and_can_be_cancelled():
    proc = _sleeper()
    try:
        out = runs_dir() / "run-s"
        worker.write_launch("run-s", {"run_id": "run-s", "run_dir": str(out), "pid": proc.pid,
                                       "started_utc": "2030-01-01T00:00:00+00:00", "started_at": time.time()})
        s = worker.status(out)
        assert s.state == "starting" and s.active
        assert [a.run_id for a in worker.active_runs()] == ["run-s"]
        with pytest.raises(ConfigError, match="still in progress"):
            worker.start_run(UnlearnRequest(train="t.csv", eval="e.csv", forget_class="x", out=""))
        assert worker.cancel(out)
        proc.wait(timeout=10)
        assert worker.status(out).state == "cancelled"
        assert worker.active_runs() == []
    finally:
        proc.kill()


def test_start_run_reports_a_failed_request_from_the_worker(tiny_bert, tiny_data):
    """A real worker process: a request the run refuses ends 'failed' with the run's own message."""
    req = UnlearnRequest(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
                         forget=tiny_data["train"], forget_class="substance", out="", device="cpu",
                         settings={"max_steps": 2}, min_forget=5)
    started = worker.start_run(req)
    assert started.state == "starting" and Path(started.run_dir).parent == runs_dir()
    end = worker.wait(started.run_dir, timeout=300)
    assert end.state == "failed"
    assert "not the forget class" in end.message  # the forget file mixes classes
    assert not Path(started.run_dir).exists()
    log = worker.log_path(started.run_id).read_text()
    import csv

    with open(tiny_data["train"], newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    assert all(t not in log for t in texts)  # the log holds no note text
