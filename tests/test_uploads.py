"""Uploaded notes are kept only while a request needs them, owner-only, and nowhere once its run
ended: the tool keeps no copy of what it was asked to forget."""
from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from pathlib import Path

import pytest
from test_dashboard_apptest import _app, _page, _run_button, _texts, dash_env, served_on_loopback  # noqa: F401

from steu_core import uploads, worker
from steu_core.paths import runs_dir, steu_home


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _fragments(path: Path, n: int = 3) -> list[bytes]:
    """Distinctive 30-character pieces of the file's notes (the middle of the longest ones)."""
    notes = sorted({line.rsplit(",", 1)[0].strip('"') for line in path.read_text().splitlines()[1:]},
                   key=len, reverse=True)[:n]
    assert len(notes) == n and all(len(t) >= 40 for t in notes)
    return [t[5:35].encode() for t in notes]


def _files_holding(roots: list[Path], fragments: list[bytes]) -> list[str]:
    hits = []
    for root in roots:
        for f in root.rglob("*"):
            if f.is_file() and not f.is_symlink():
                data = f.read_bytes()
                hits += [f"{f}: {frag!r}" for frag in fragments if frag in data]
    return hits


def test_upload_is_owner_only_and_the_data_directory_too():
    path = uploads.save_upload(uploads.new_session(), "../../etc/my notes.csv", b"text,label\nx,y\n")
    assert path.name == "my_notes.csv" and path.read_bytes() == b"text,label\nx,y\n"
    assert _mode(path) == 0o600
    for folder in (path.parent, path.parent.parent, uploads.uploads_dir(), steu_home(), runs_dir()):
        assert _mode(folder) == 0o700, folder


@pytest.mark.parametrize("name, expected", [
    ("notes." + "x" * 300, "notes." + "x" * 15),  # a 300-character extension: no OSError (name too long)
    ("n" * 300 + ".csv", "n" * 80 + ".csv"),
    ("." + "y" * 300, "y" * 80),  # a dot file: all stem, no extension
])
def test_long_upload_names_are_bounded_and_saved(name, expected):
    path = uploads.save_upload(uploads.new_session(), name, b"text,label\nx,y\n")
    assert path.name == expected and path.read_bytes() == b"text,label\nx,y\n"


def test_a_loose_data_directory_is_tightened(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    monkeypatch.setenv("STEU_HOME", str(home))
    assert _mode(steu_home()) == 0o700


def test_removing_an_upload_never_touches_files_outside_the_uploads_folder(tmp_path):
    outside = tmp_path / "sample.csv"
    outside.write_text("text,label\n")
    kept = uploads.save_upload(uploads.new_session(), "a.csv", b"a")
    gone = uploads.save_upload(uploads.new_session(), "b.csv", b"b")
    assert uploads.remove([outside, kept, gone], keep={str(kept.resolve())}) == 1
    assert outside.is_file() and kept.is_file() and not gone.exists()
    assert not gone.parent.exists(), "the emptied folders go too"


def test_a_run_ending_deletes_its_uploads_once(tmp_path):
    up = uploads.save_upload(uploads.new_session(), "forget.csv", b"notes")
    launch = worker.launch_dir() / "run-x.json"
    launch.write_text(json.dumps({"run_id": "run-x", "pid": 0, **uploads.launch_fields(
        type("Req", (), {"train": str(tmp_path / "t.csv"), "eval": None, "forget": str(up)})())}))
    assert json.loads(launch.read_text())["uploads"] == [str(up.resolve())], "only the uploaded file is named"
    assert uploads.runs_holding_uploads(worker.launch_dir()) == ["run-x"]
    assert worker.status("run-x").state == "failed"  # its process is gone: the run ended
    assert not up.exists() and "uploads" not in json.loads(launch.read_text())
    assert uploads.runs_holding_uploads(worker.launch_dir()) == []


def test_an_uploaded_ids_file_is_held_by_its_run_too():
    up = uploads.save_upload(uploads.new_session(), "ids.csv", b"note_id\n1\n")
    req = type("Req", (), {"train": None, "eval": None, "forget": None, "forget_ids": str(up)})()
    assert uploads.launch_fields(req) == {"uploads": [str(up.resolve())]}


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    for p in [path, *path.rglob("*")]:
        os.utime(p, (old, old))


def test_startup_cleanup_keeps_live_sessions_and_runs_in_progress():
    crashed = uploads.save_upload(uploads.new_session(), "forget.csv", b"old")
    held = uploads.save_upload(uploads.new_session(), "train.csv", b"held")
    _age(crashed.parent.parent, 3600)
    _age(held.parent.parent, 3600)
    started = time.time()
    live = uploads.save_upload(uploads.new_session(), "eval.csv", b"live")
    notice = uploads.startup_cleanup(started, keep={str(held.resolve())})
    assert not crashed.exists() and not crashed.parent.parent.exists()
    assert held.is_file() and live.is_file()
    assert notice and "left by a session" in notice


def test_dashboard_start_removes_crash_leftovers_and_earlier_versions_uploads(dash_env):
    legacy = steu_home() / "uploads" / "0123456789abcdef0123"
    legacy.mkdir(parents=True)
    (legacy / "forget.csv").write_text("text,label\nsecret note,substance\n")
    leftover = uploads.save_upload(uploads.new_session(), "forget.csv", b"text,label\nold,substance\n")
    _age(leftover.parent.parent, 3600)
    at = _app()
    assert not at.exception
    assert not legacy.exists() and not leftover.exists()
    notice = _texts(at)
    assert "Deleted 1 uploaded file(s) that an earlier version kept" in notice
    assert "left by a session" in notice
    assert "earlier version" not in _texts(_page(at, "model")), "the notice is shown once per session"


def test_replacing_an_upload_deletes_the_old_file(dash_env):
    at = _page(_app(), "request")
    data = Path(dash_env["forget"]).read_bytes()
    at.file_uploader(key="up_forget").set_value(("first.csv", data, "text/csv")).run()
    first = list(uploads.uploads_dir().rglob("*.csv"))
    assert [p.name for p in first] == ["first.csv"] and _mode(first[0]) == 0o600
    at.file_uploader(key="up_forget").set_value(("second.csv", data, "text/csv")).run()
    assert [p.name for p in uploads.uploads_dir().rglob("*.csv")] == ["second.csv"]
    at.file_uploader(key="up_forget").set_value(None).run()
    assert not list(uploads.uploads_dir().rglob("*.csv")), "removing the upload deletes it"
    assert not at.exception


def test_nothing_of_the_forgotten_notes_remains_after_a_dashboard_run(dash_env, tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the worker's temporary files land here too
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    fragments = _fragments(Path(dash_env["forget"]))
    at = _page(_app(), "request")
    at.file_uploader(key="up_forget").set_value(("patient 42.csv", Path(dash_env["forget"]).read_bytes(),
                                                 "text/csv")).run()
    assert _files_holding([steu_home()], fragments), "the check can fail: the open request's upload is seen"
    _page(at, "run")
    at.number_input(key="max_steps").set_value(15)
    at.number_input(key="min_forget").set_value(5)
    at.selectbox(key="device").set_value("cpu")
    _run_button(at).click().run()
    run_id = at.query_params["run"]
    run_id = run_id[0] if isinstance(run_id, list) else run_id
    end = worker.wait(run_id, timeout=400)
    assert end.state == "finished", end.message
    at.run()
    assert not at.exception
    assert _files_holding([steu_home(), tmp], fragments) == []
    results = json.loads((runs_dir() / run_id / "results.json").read_text())
    assert "patient_42.csv" in json.dumps(results), "the run keeps the file's name"
    _page(at, "request")
    assert "patient_42.csv" in _texts(at) and "were deleted when the run" in _texts(at)


def test_history_signs_shows_and_offers_the_checkpoint_and_public_key(dash_env, tmp_path):
    from steu_core.ledger import Ledger, load_verifier

    ledger = Ledger()
    ledger.append("request", {"request_id": "REQ-1", "forget_rows": 12})
    at = _page(_app(), "history")
    assert "No checkpoint signed yet" in _texts(at)
    next(b for b in at.button if b.label == "Sign a checkpoint now").click().run()
    assert not at.exception and not at.error
    downloads = {b.label: b for b in at.get("download_button")}
    assert {"Download the checkpoint", "Download the public key"} <= set(downloads)
    assert any(m.label == "Tree size" and m.value == "1" for m in at.metric)
    assert "extends this checkpoint" in _texts(at)
    shown = next(c.value for c in at.code if c.value.count("\n") > 3)
    checkpoint = Path(str(ledger.path) + ".last-checkpoint").read_text()  # what the download holds
    assert shown.strip() == checkpoint.strip()
    key_file = tmp_path / "steu-ledger.pub"
    key_file.write_text(next(c.value for c in at.code if c.value.count("\n") == 0))
    assert ledger.verify_checkpoint(checkpoint, load_verifier(key_file)).ok, "a witness can check it offline"
    ledger.append("run", {"request_id": "REQ-1", "run_id": "run-x"})
    at = _page(_app(), "history")
    assert "extends this checkpoint" in _texts(at), "a later, longer ledger still extends it"
