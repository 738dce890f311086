"""A deletion request from receipt to closure: containment, one retrain erasing two requests, the training
manifest's absence proofs, resume after a stop, deployment rules (steu_core.deletion, training_manifest)."""
from __future__ import annotations

import pytest
from conftest import CLASS_WORDS, make_notes, write_csv

from steu_core.data import load_notes, note_digest
from steu_core.errors import Cancelled, ConfigError
from steu_core.model import hash_directory
from steu_core.request import UnlearnRequest
from steu_core.train import TrainConfig, train_classifier
from steu_core.training_manifest import HashList, check_absence_proof, read_manifest, write_manifest
from steu_core.deletion import actions, states
from steu_core.deletion.book import all_requests, find_request
from steu_core.deletion.deploy import model_entries, serving, stale_model_warnings
from steu_core.deletion.erase import erase
from steu_core.deletion import verify as v

MAX_LENGTH = 48


def test_absence_proofs_check_against_the_root_alone():
    listed = HashList.of(note_digest(f"note {i}").hex() for i in range(37))
    for i in (100, 101, 102, 103):
        h = note_digest(f"note {i}").hex()
        proof = listed.absence_proof(h)
        assert check_absence_proof(proof, listed.root)
        assert not check_absence_proof({**proof, "note_sha256": listed.hashes[5]}, listed.root), "a listed hash"
        assert not check_absence_proof(proof, HashList.of(listed.hashes[1:]).root), "another list's root"
    inside = listed.hashes[10]
    with pytest.raises(ValueError):
        listed.absence_proof(inside)
    far = listed.absence_proof("f" * 64)  # after the last: only a left neighbour, the last leaf
    assert far["right"] is None and check_absence_proof(far, listed.root)
    skipped = {**far, "left": {**far["left"], "index": far["left"]["index"] - 1}}
    assert not check_absence_proof(skipped, listed.root)


def test_a_changed_manifest_is_refused(tmp_path):
    listed = HashList.of(note_digest(f"n{i}").hex() for i in range(5))
    path = write_manifest(tmp_path, listed, {"settings": {}})
    body, again = read_manifest(path)
    assert again == listed and body["count"] == 5
    path.write_text(path.read_text().replace(listed.hashes[0], listed.hashes[0][:-1] + "0"))
    with pytest.raises(Exception, match="changed|not a valid"):
        read_manifest(path)


def test_states_allow_only_forward_moves():
    assert states.can_move(None, states.RECEIVED) and not states.can_move(None, states.CONTAINED)
    assert states.can_move(states.CONTAINED, states.ERASED) and not states.can_move(states.ERASED, states.CONTAINED)
    assert states.can_move(states.ERASED, states.DECLINED) and not states.can_move(states.CLOSED, states.DECLINED)
    assert not states.can_move(states.RECEIVED, states.VERIFIED) and not states.can_move(states.CONTAINED, states.CLOSED)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An original trained by the tool (so it carries its training manifest) and two requests' forget files."""
    from tiny_models import make_tiny_classifier

    d = tmp_path_factory.mktemp("deletion")
    rows = make_notes(30, seed=1)
    sub = [r for r in rows if r[1] == "substance"]
    labels = sorted(CLASS_WORDS)
    base = make_tiny_classifier("bert", d / "base", labels, texts=[r[0] for r in make_notes(5, 9)])
    train = write_csv(d / "train.csv", rows)
    original, _ = train_classifier(base, load_notes(train), d / "original", device="cpu", labels=labels,
                                   cfg=TrainConfig(epochs=4, batch_size=8, lr=3e-3, max_length=MAX_LENGTH))
    return {"dir": d, "train": train, "eval": write_csv(d / "eval.csv", make_notes(15, seed=2)),
            "f1": write_csv(d / "f1.csv", sub[:12]), "f2": write_csv(d / "f2.csv", sub[12:24]),
            "original": original, "rows": rows, "sub": sub}


def request(world, rid: str, forget, **kw) -> UnlearnRequest:
    return UnlearnRequest(model=str(world["original"]), train=str(world["train"]), eval=str(world["eval"]),
                          forget=str(forget), forget_class="substance", max_length=MAX_LENGTH, request_id=rid,
                          requester="patient", reason="art. 17", operator="officer", **kw)


def contain(world, rid: str, forget, out):
    from steu_core.runs import run_unlearning

    return run_unlearning(request(world, rid, forget, out=str(out), settings={"max_steps": 10}))


def test_two_requests_contained_erased_in_one_retrain_verified_and_closed(world, tmp_path):
    contain(world, "R1", world["f1"], tmp_path / "run1")
    actions.open_request(request(world, "R2", world["f2"], out=""))
    book = all_requests()
    assert book["R1"].state == states.CONTAINED and book["R2"].state == states.RECEIVED
    assert serving(book["R1"])["serve"] == "contained" and serving(book["R2"])["serve"] == "original"
    assert book["R1"].facts["forget_set"]["count"] == 12

    done = erase(["R1", "R2"], tmp_path / "erase", checkpoint_every=3, actor="officer")
    record = done["erasure"]
    assert record["removed_notes"] == 24 and record["trained_notes"]["count"] == len(world["rows"]) - 24
    assert set(done["audits"]) == {"R1", "R2"} and all(a["verdicts"] for a in done["audits"].values())
    book = all_requests()
    assert book["R1"].state == book["R2"].state == states.ERASED
    assert serving(book["R1"])["sha256"] == record["model_sha256"] == hash_directory(tmp_path / "erase" / "model")["sha256"]

    check = v.start_check(tmp_path / "erase")
    v.check_absent(check, v.forget_file_hashes(world["f1"]), "f1")
    v.check_absent(check, v.request_hashes("R2"), "R2")
    v.check_retrain(check, world["train"])
    assert check.ok, check.lines
    assert [s for s, w, _ in check.lines if w == "re-run"] == [v.PASS], "retraining from the manifest is bit-identical"
    assert [s for s, w, _ in check.lines if w == "ledger"] == [v.PASS]
    assert len(check.proofs) == 24 and all(check_absence_proof(p, check.hashes.root) for p in check.proofs)

    with pytest.raises(ConfigError, match="only a verified request"):
        actions.close("R1")
    actions.record_state("R1", states.VERIFIED, "auditor", merkle_root=check.hashes.root)
    actions.close("R1", "officer")
    closed = find_request("R1")
    assert closed.state == states.CLOSED and [e.state for e in closed.events if e.moved] == [
        states.RECEIVED, states.CONTAINED, states.ERASED, states.VERIFIED, states.CLOSED]
    assert all(e.at and e.actor and len(e.entry_hash) == 64 for e in closed.events), "time, person and proof"
    with pytest.raises(ConfigError, match="final"):
        actions.decline("R1", "too late")
    check_request_report(tmp_path)


def check_request_report(tmp_path):
    """The request's report is signed, recorded, proves every state offline, and a changed byte fails it."""
    from steu_core.report.request_report import build_request_report, request_content, request_html
    from steu_core.report.packet import packet_for
    from steu_core.report.verify import verify_report

    pdf = build_request_report("R1", tmp_path / "rep" / "R1.pdf", "St Elsewhere")
    zipped = tmp_path / "rep" / "R1.zip"
    zipped.write_bytes(packet_for(pdf).data)
    check = verify_report(zipped)
    assert check.ok, check.checks
    assert {name for name, ok, _ in check.checks} >= {"request states in the signed log",
                                                      "report names the request states", "PDF signature"}
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 1
    pdf.write_bytes(bytes(data))
    assert not verify_report(pdf).ok
    page = request_html(request_content("R1"))
    assert "Deletion request R1: Closed" in page and "<script" not in page


def test_a_containment_report_says_erasure_is_owed_and_by_when(world, tmp_path, monkeypatch):
    from steu_core.deletion.summary import erasure_owed_note

    monkeypatch.setenv("STEU_ERASURE_DAYS", "30")
    actions.open_request(request(world, "R9", world["f1"], out=""))
    due = find_request("R9").erasure_due()
    assert due and erasure_owed_note("R9", "steu").endswith(f"due by {due}.")
    assert erasure_owed_note("R9", "erased") is None and erasure_owed_note("nope", "steu") is None
    monkeypatch.setenv("STEU_ERASURE_DAYS", "soon")
    with pytest.raises(ConfigError, match="whole number of days"):
        find_request("R9").erasure_due()


def test_verification_fails_when_one_forget_note_is_slipped_back(world, tmp_path):
    notes = load_notes(world["train"])
    forget = {note_digest(t) for t in load_notes(world["f1"]).texts}
    kept = [i for i, t in enumerate(notes.texts) if note_digest(t) not in forget]
    slipped = kept + [notes.texts.index(load_notes(world["f1"]).texts[3])]
    train_classifier(world["dir"] / "base", notes.subset(slipped), tmp_path / "bad", device="cpu",
                     labels=sorted(CLASS_WORDS), cfg=TrainConfig(epochs=1, batch_size=8, max_length=MAX_LENGTH))
    check = v.start_check(tmp_path / "bad")
    v.check_absent(check, v.forget_file_hashes(world["f1"]), "f1")
    assert not check.ok
    assert [(s, d.split(" (")[0]) for s, w, d in check.lines if w.startswith("forget")] == [
        (v.FAIL, "1 of 12 note(s) ARE in the training manifest")]


def test_a_stopped_retrain_resumes_to_the_same_model(world, tmp_path):
    actions.open_request(request(world, "R3", world["f1"], out=""))
    steps = []

    def stop_after_four(info=None):
        return len(steps) >= 4

    with pytest.raises(Cancelled):
        erase(["R3"], tmp_path / "a", checkpoint_every=2, progress=lambda i: steps.append(i.get("step")),
              cancel=stop_after_four)
    assert not (tmp_path / "a").exists(), "a stopped erasure leaves nothing that looks finished"
    resumed = erase(["R3"], tmp_path / "a", checkpoint_every=2)["erasure"]
    assert resumed["resumed_at_step"] == 4
    whole = train_unstopped(world, tmp_path / "a" / "model", tmp_path / "whole")
    assert resumed["model_sha256"] == whole, "the resumed retrain ends with the uninterrupted one's weights"


def train_unstopped(world, erased_model, out) -> str:
    """The erasure's training, never stopped, from its own manifest."""
    body, listed = read_manifest(erased_model)
    notes = load_notes(world["train"])
    kept = notes.subset([i for i, t in enumerate(notes.texts) if note_digest(t).hex() in listed],
                        name=body["training_file"]["name"])
    train_classifier(body["base"]["given"], kept, out, TrainConfig(**body["settings"]), device="cpu",
                     labels=body["labels"], facts={"erasure": body["erasure"]})
    return hash_directory(out)["sha256"]


def test_a_model_trained_from_the_original_after_receipt_is_named(world, tmp_path):
    from steu_core.cli.train import record_model

    actions.open_request(request(world, "R5", world["f2"], out=""))
    newer, _ = train_classifier(world["original"], load_notes(world["train"]), tmp_path / "newer", device="cpu",
                                cfg=TrainConfig(epochs=1, batch_size=8, max_length=MAX_LENGTH))
    record_model(newer, str(world["original"]))
    warnings = stale_model_warnings(find_request("R5"), model_entries())
    assert len(warnings) == 1 and "fine-tuned from the original" in warnings[0]


def test_moves_a_state_does_not_allow_are_refused(world):
    actions.open_request(request(world, "R6", world["f2"], out=""))
    with pytest.raises(ConfigError, match="already on record"):
        actions.open_request(request(world, "R6", world["f2"], out=""))
    with pytest.raises(ConfigError, match="cannot become Verified"):
        actions.record_state("R6", states.VERIFIED)
    with pytest.raises(ConfigError, match="reason for declining is required"):
        actions.decline("R6", "  ")
    actions.decline("R6", "not our patient", "officer")
    assert find_request("R6").state == states.DECLINED
    with pytest.raises(ConfigError, match="no deletion request 'nope'"):
        erase(["nope"], "/tmp/never")


def test_the_requests_page_shows_a_request_after_a_refresh_and_records_a_decline(world, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    for role in ("train", "eval"):
        monkeypatch.setenv(f"STEU_DASHBOARD_{role.upper()}", str(world[role]))
    monkeypatch.setenv("STEU_DASHBOARD_MODEL", str(world["original"]))
    monkeypatch.setenv("STEU_DASHBOARD_FORGET", str(world["f2"]))
    actions.open_request(request(world, "R8", world["f2"], out=""))
    actions.schedule("R8", "2030-01-31", "officer")
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    at = AppTest.from_file(str(app), default_timeout=120)
    at.run()
    at.switch_page("views/requests.py")
    at.query_params["request"] = "R8"  # what a browser refresh of /requests?request=R8 keeps
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(m.value for m in at.markdown) + " ".join(s.value for s in at.subheader)
    assert "Request R8: Erasure scheduled" in shown and "due by 2030-01-31" in shown
    assert "Serve:** the original model" in shown
    at.text_input(key="decline_reason").input("duplicate of R7").run()
    at.button(key="decline_go").click().run()
    assert find_request("R8").state == states.DECLINED
    assert find_request("R8").latest(states.DECLINED).detail["reason"] == "duplicate of R7"


def test_an_erasure_refuses_a_training_file_changed_or_gone_and_takes_it_again_by_hash(world, tmp_path):
    import shutil

    from steu_core.deletion.erase import located
    from steu_core.errors import DataError

    copy = tmp_path / "train-copy.csv"
    shutil.copy(world["train"], copy)
    actions.open_request(UnlearnRequest(model=str(world["original"]), train=str(copy), eval=str(world["eval"]),
                                        forget=str(world["f1"]), forget_class="substance", request_id="R10", out="",
                                        requester="patient", reason="art. 17"))
    copy.write_text(copy.read_text() + "one more, note,substance\n")
    with pytest.raises(DataError, match="not the file the request was recorded with"):
        erase(["R10"], tmp_path / "e")
    copy.unlink()
    with pytest.raises(DataError, match="is not there any more.*--train"):
        erase(["R10"], tmp_path / "e")
    assert not (tmp_path / "e").exists(), "a refused erasure writes nothing"
    fact = find_request("R10").facts["files"]["train"]
    assert located(fact, world["train"], "training file", "--train") == str(world["train"]), "the same bytes elsewhere"


def test_the_requests_command_lists_shows_and_moves_a_request(world, capsys):
    from steu_core.cli import main

    actions.open_request(request(world, "R11", world["f2"], out=""))
    assert main(["requests"]) == 0
    listed = capsys.readouterr().out
    assert "R11" in listed and "Received" in listed and "containment (a sparse edit" in listed
    assert main(["requests", "schedule", "R11", "--by", "2031-02-03", "--operator", "officer"]) == 0
    assert "erasure scheduled by 2031-02-03" in capsys.readouterr().out
    assert main(["requests", "show", "R11"]) == 0
    shown = capsys.readouterr().out
    assert "Request R11: Erasure scheduled" in shown and "Erasure due by 2031-02-03" in shown and "by officer" in shown
    assert main(["requests", "close", "R11"]) == 2, "a request that is not verified cannot be closed"
    assert "only a verified request can be closed" in capsys.readouterr().err
    assert main(["requests", "schedule", "R11", "--by", "next week"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_a_killed_retrain_resumes_from_its_last_checkpoint(world, tmp_path):
    import os
    import subprocess
    import sys

    from steu_core.deletion.checkpoint import KILL_ENV

    actions.open_request(request(world, "R12", world["f2"], out=""))
    out = tmp_path / "killed"
    env = dict(os.environ, **{KILL_ENV: "4"})
    done = subprocess.run([sys.executable, "-m", "steu_core", "erase", "--requests", "R12", "--out", str(out),
                           "--checkpoint-every", "2", "--quiet"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == -9, done.stderr[-500:]
    assert not out.exists(), "a killed erasure leaves nothing that looks finished"
    resumed = erase(["R12"], out, checkpoint_every=2)["erasure"]
    assert resumed["resumed_at_step"] == 4 and find_request("R12").state == states.ERASED


def test_an_erasure_started_as_a_worker_job_finishes_and_records_its_requests(world):
    from steu_core import worker
    from steu_core.deletion.job import EraseRequest
    from steu_core.worker import jobs

    actions.open_request(request(world, "R13", world["f1"], out=""))
    with pytest.raises(ConfigError, match="no deletion request 'R99'"):
        worker.start_erasure(EraseRequest(requests=["R13", "R99"]))  # refused in the caller's words, nothing started
    started = worker.start_erasure(EraseRequest(requests=["R13"], operator="officer", checkpoint_every=5))
    ended = jobs.wait(worker.ERASURES, started.run_id, timeout=600)
    assert ended.state == "finished", (ended.state, ended.message)
    erased = find_request("R13").latest(states.ERASED)
    assert erased.actor == "officer" and erased.detail["erasure"] == started.run_dir


def test_an_erasure_audits_with_the_containment_runs_forget_set_once_the_forget_file_is_gone(world, tmp_path):
    import shutil

    forget = tmp_path / "upload-forget.csv"  # as the dashboard's upload, deleted when its run ends
    shutil.copy(world["f1"], forget)
    contain(world, "R14", forget, tmp_path / "run14")
    forget.unlink()
    done = erase(["R14"], tmp_path / "e14", checkpoint_every=50)
    audit = load_results_of(done["audits"]["R14"]["run_dir"])
    assert audit["data"]["forget_source"]["given_by"] != "notes" and audit["data"]["forget"]["rows"] == 12


def load_results_of(run_dir):
    from steu_core.runs import load_results

    return load_results(run_dir)
