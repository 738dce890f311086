"""steu_core.runs.precompute: a request's original scores computed before it is run, so that its first run
reads them from the cache exactly as a second request would; one entry is computed by one process at a time."""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
import torch

from steu_core import distributed, worker
from steu_core.cli import main
from steu_core.errors import Cancelled
from steu_core.ledger import Ledger
from steu_core.request import PrecomputeRequest
from steu_core.runs import UnlearnRequest, original_cache, pipeline, precompute, run_unlearning, staging_dir

REQ = dict(forget_class="substance", device="cpu", max_length=48, min_forget=5, settings={"max_steps": 8})


def _fields(tiny_bert, tiny_data) -> dict:
    return dict(model=str(tiny_bert), train=str(tiny_data["train"]), eval=str(tiny_data["eval"]),
                forget=str(tiny_data["forget"]), **REQ)


def _entries() -> list[Path]:
    return sorted(original_cache.cache_dir().glob("*.safetensors"))


def _model_hash(out: Path) -> str:
    return json.loads((out / "results.json").read_text())["hashes"]["unlearned_model"]


def test_a_precomputed_request_runs_from_the_cache_and_makes_the_same_model(tiny_bert, tiny_data, tmp_path,
                                                                            monkeypatch):
    fields = _fields(tiny_bert, tiny_data)
    fresh = run_unlearning(UnlearnRequest(**fields, out=tmp_path / "fresh", use_cache=False))  # no cache at all
    recorded = len(Ledger().entries())
    out = precompute.precompute_original(PrecomputeRequest(**fields, out=tmp_path / "pre"))
    done = precompute.read_done(out)
    assert done["seconds"]["total"] > 0 and done["scores_were_cached"] is False and not staging_dir(out).exists()
    assert len(_entries()) == 4  # the scores, the retain pool's features, the eval and retain token ids
    assert len(Ledger().entries()) == recorded  # nothing recorded: no request was run

    calls = []
    real = distributed.compute_features
    monkeypatch.setattr(distributed, "compute_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(pipeline, "compute_features", lambda *a, **k: calls.append(2) or real(*a, **k))
    scored = []
    real_scores = original_cache.scores
    monkeypatch.setattr(original_cache, "scores", lambda *a, **k: scored.append(real_scores(*a, **k)) or scored[-1])
    first = run_unlearning(UnlearnRequest(**fields, out=tmp_path / "first"))
    assert scored[0][1] is True, "the first run scored the original again"
    assert 1 not in calls, "the method computed the original's retain features again"
    assert len(_entries()) == 4  # all read, none added
    assert _model_hash(first) == _model_hash(fresh)  # the precomputed numbers are those the run computes


def test_the_cli_precomputes_and_a_second_precomputation_reads_everything(tiny_bert, tiny_data, tmp_path, capsys):
    argv = ["precompute", "--model", str(tiny_bert), "--train", str(tiny_data["train"]), "--eval",
            str(tiny_data["eval"]), "--forget", str(tiny_data["forget"]), "--forget-class", "substance",
            "--device", "cpu", "--max-length", "48", "--min-forget", "5", "--quiet"]
    assert main(argv + ["--out", str(tmp_path / "a")]) == 0
    assert "The original model's scores are kept for this request" in capsys.readouterr().out
    assert main(argv + ["--out", str(tmp_path / "b")]) == 0
    assert precompute.read_done(tmp_path / "b")["scores_were_cached"] is True
    assert main(argv[:-1] + ["--forget-class", "nope", "--out", str(tmp_path / "c")]) == 2
    assert json.loads((staging_dir(tmp_path / "c") / "progress.json").read_text())["state"] == "failed"
    assert not (tmp_path / "c").exists()


def test_a_process_waits_for_the_entry_another_is_computing_and_reads_it():
    key, stored = "ab" + "0" * 62, {"eval_logits": torch.ones(3, 2), "forget_logits": torch.zeros(2, 2)}
    holding = threading.Event()

    def other() -> None:  # another process computing the same entry (its own lock file handle)
        with original_cache.computing(key):
            holding.set()
            time.sleep(1.3)
            original_cache.save(key, stored)

    t = threading.Thread(target=other)
    t.start()
    holding.wait(5)
    waits = []
    found, hit = original_cache.scores(key, lambda: pytest.fail("computed a second time"), 3, 2, torch.device("cpu"),
                                       on_wait=waits.append)
    t.join()
    assert hit and torch.equal(found["eval_logits"], stored["eval_logits"])
    assert waits[0] is True and waits[-1] is False and len(waits) >= 2


def test_a_cancelled_run_stops_waiting():
    key = "cd" + "0" * 62
    holding, release = threading.Event(), threading.Event()

    def other() -> None:
        with original_cache.computing(key):
            holding.set()
            release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    holding.wait(5)

    def cancel(waiting: bool) -> None:
        raise Cancelled("the run was cancelled")

    with pytest.raises(Cancelled):
        original_cache.features(key, lambda: pytest.fail("computed"), 3, torch.device("cpu"), on_wait=cancel)
    release.set()
    t.join()


def test_the_fingerprint_follows_the_files_and_tells_method_fields_apart(tiny_data, tmp_path):
    train = tmp_path / "train.csv"
    train.write_bytes(Path(tiny_data["train"]).read_bytes())
    req = PrecomputeRequest(train=str(train), eval=str(tiny_data["eval"]), out="", **REQ)
    fp, data = precompute.fingerprint(req), precompute.fingerprint(req, method=False)
    assert precompute.fingerprint(PrecomputeRequest(train=str(train), eval=str(tiny_data["eval"]), out="", **REQ)) == fp
    other_seed = PrecomputeRequest(train=str(train), eval=str(tiny_data["eval"]), out="", **{**REQ}, seed=3)
    assert precompute.fingerprint(other_seed) != fp and precompute.fingerprint(other_seed, method=False) == data
    os.utime(train, ns=(1, 1))  # the same path, another file
    assert precompute.fingerprint(req, method=False) != data


def test_a_worker_precomputation_never_deletes_the_requests_uploads(tiny_bert, tiny_data, tmp_path):
    from steu_core import uploads

    up = uploads.save_upload(uploads.new_session(), "forget.csv", Path(tiny_data["forget"]).read_bytes())
    fields = {**_fields(tiny_bert, tiny_data), "forget": str(up)}
    started = worker.start_precompute(PrecomputeRequest(**fields, out=""))
    assert started.run_id.startswith("pre-")
    end = worker.jobs.wait(worker.PRECOMPUTES, started.run_dir, timeout=300)
    assert end.state == "finished", end.message
    assert up.is_file()  # a run's end deletes its uploads; this job only read them
    assert precompute.read_done(Path(end.run_dir))["seconds"]["total"] > 0
