"""steu_core.worker.warm: jobs forked from a process that has already imported everything compute what
a fresh process computes, stay cancellable, and nobody else can reach or reuse the server."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from steu_core import worker
from steu_core.runs import UnlearnRequest
from steu_core.worker import warm


APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


@pytest.fixture()
def short_tmp(monkeypatch):
    """A short temporary folder for the socket (pytest's own are too long for a socket's name)."""
    folder = tempfile.mkdtemp(prefix="sw", dir="/tmp")
    monkeypatch.setattr(warm.tempfile, "gettempdir", lambda: folder)
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def warm_server(monkeypatch, short_tmp, tiny_bert, tiny_data):
    """A warm server started by opening the dashboard, stopped afterwards."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(warm.ENV_SWITCH, "1")
    for name, value in (("MODEL", tiny_bert), ("TRAIN", tiny_data["train"]), ("EVAL", tiny_data["eval"])):
        monkeypatch.setenv(f"STEU_DASHBOARD_{name}", str(value))
    at = AppTest.from_file(str(APP), default_timeout=120).run()  # the app starts the server
    assert not at.exception, [e.value for e in at.exception]
    sock, reply = warm.socket_path(), None
    with open(warm.lock_file(sock), "a+b") as lock, pytest.raises(BlockingIOError):
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by the server the app started
    assert worker.warm_up() is False  # still importing: a second call starts no other
    deadline = time.monotonic() + 180
    while reply is None and time.monotonic() < deadline:
        time.sleep(0.5)
        reply = warm.ask(sock, {"ping": True})
    assert reply is not None, (worker.logs_dir() / "warm-worker.log").read_text()
    servers = subprocess.run(["pgrep", "-f", str(sock)], capture_output=True, text=True).stdout.split()
    assert servers == [str(reply["pid"])]
    yield reply["pid"]
    assert warm.stop(sock) == reply["pid"]
    assert not sock.exists()  # a stopped server takes its socket with it


def _request(tiny_bert, tiny_data, max_steps: int = 3) -> UnlearnRequest:
    return UnlearnRequest(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
                          forget=tiny_data["forget"], forget_class="substance", out="", device="cpu",
                          settings={"max_steps": max_steps, "min_df": 2, "k": 4}, min_forget=5, max_length=48)


def _figures(run_dir: str) -> dict:
    results = json.loads((Path(run_dir) / "results.json").read_text())
    figures = {key: results[key] for key in ("selected_tokens", "forget_f1_after", "retain_f1_after",
                                             "params_changed", "changed_embedding_rows")}
    figures["hashes"] = {k: v for k, v in results["hashes"].items() if k != "manifest"}  # it names the run
    figures["training"] = {k: v for k, v in results["training"].items() if not k.endswith("seconds")}
    return figures


def test_a_forked_run_equals_a_fresh_process(warm_server, tiny_bert, tiny_data, monkeypatch):
    forked = worker.start_run(_request(tiny_bert, tiny_data))
    record = worker.read_launch(forked.run_id)
    assert record["started_by"] == "warm worker"
    assert os.getpgid(forked.pid) == forked.pid != warm_server  # its own session, not the server
    assert worker.wait(forked.run_dir, timeout=300).state == "finished"
    log = worker.log_path(forked.run_id).read_text()
    assert log.startswith("[") and "worker started for run" in log

    monkeypatch.setenv(warm.ENV_SWITCH, "0")
    fresh = worker.start_run(_request(tiny_bert, tiny_data))
    assert worker.read_launch(fresh.run_id)["started_by"] == "new process"
    assert worker.wait(fresh.run_dir, timeout=300).state == "finished"
    assert _figures(forked.run_dir) == _figures(fresh.run_dir)


def test_a_forked_run_can_be_cancelled(warm_server, tiny_bert, tiny_data):
    started = worker.start_run(_request(tiny_bert, tiny_data, max_steps=400))
    assert worker.read_launch(started.run_id)["started_by"] == "warm worker"
    assert worker.cancel(started.run_id, force=True)
    assert not worker.process_alive(started.pid)
    assert worker.status(started.run_id).state == "cancelled"
    assert warm.ask(warm.socket_path(), {"ping": True})["pid"] == warm_server  # the server is unharmed


def test_a_shared_socket_folder_is_never_used(monkeypatch, short_tmp):
    monkeypatch.setenv(warm.ENV_SWITCH, "1")
    folder = short_tmp / f"steu-warm-{os.getuid()}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)  # another user could plant a socket here
    assert warm.socket_path() is None and worker.warm_up() is False
    assert warm.launch(["--version"], short_tmp / "log", "", {}) is None
    assert list(folder.iterdir()) == []


def test_no_warm_worker_where_the_socket_name_would_be_too_long(monkeypatch, tmp_path):
    monkeypatch.setenv(warm.ENV_SWITCH, "1")
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    monkeypatch.setattr(warm.tempfile, "gettempdir", lambda: str(deep))
    assert warm.socket_path() is None and worker.warm_up() is False


def test_the_socket_name_changes_with_the_code_and_the_environment(monkeypatch, tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(warm, "_PACKAGE", package)
    first = warm.fingerprint()
    assert warm.fingerprint() == first
    (package / "a.py").write_text("x = 22\n")
    assert warm.fingerprint() != first
    second = warm.fingerprint()
    monkeypatch.setenv("STEU_HOME", str(tmp_path / "elsewhere"))
    assert warm.fingerprint() != second


def test_an_idle_server_leaves_and_a_bad_job_is_refused(monkeypatch, short_tmp):
    monkeypatch.setenv(warm.ENV_SWITCH, "1")
    sock = short_tmp / "s.sock"
    server = subprocess.Popen([sys.executable, "-m", "steu_core.worker.warm", str(sock), "--idle", "6"],
                              cwd=warm._PACKAGE.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not sock.exists() and time.monotonic() < deadline and server.poll() is None:
        time.sleep(0.2)
    refused = warm.ask(sock, {"args": "unlearn", "log": 1})
    assert refused == {"error": "a job needs args (strings), env, log and first_line"}
    assert server.wait(timeout=60) == 0, server.stdout.read().decode()
    assert not sock.exists()
    assert b"RuntimeWarning" not in server.stdout.read()


def test_the_server_leaves_when_its_owners_have_ended(monkeypatch, short_tmp):
    """Stopping the dashboard stops its warm worker: the server leaves once every owner (the process that
    started it, and each one that pinged it with its pid) has ended, long before its idle time."""
    monkeypatch.setenv(warm.ENV_SWITCH, "1")
    sock = short_tmp / "o.sock"
    first, second = (subprocess.Popen(["sleep", "600"]) for _ in range(2))
    server = subprocess.Popen([sys.executable, "-m", "steu_core.worker.warm", str(sock), "--idle", "600",
                               "--owner", str(first.pid)], cwd=warm._PACKAGE.parent, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while warm.ask(sock, {"ping": True, "owner": second.pid}) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        first.kill()
        first.wait()
        time.sleep(3)
        assert server.poll() is None, "one owner still lives: the server stays"
        second.kill()
        second.wait()
        assert server.wait(timeout=30) == 0, server.stdout.read().decode()
        assert not sock.exists()
    finally:
        for proc in (first, second, server):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
