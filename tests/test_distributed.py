"""Two CPU processes (``torchrun --nproc_per_node 2 -m steu_core unlearn``, gloo) give the result of
one process: the same selected rows, the same F1s, rows and head within float tolerance; only
process 0 writes files and the ledger; an error on process 0 alone stops both, with its message."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from steu_core.ledger import Ledger
from steu_core.runs import UnlearnRequest, run_unlearning, staging_dir

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"k": 6, "max_steps": 30, "lr_rows": 0.05, "lr_head": 0.02, "min_df": 2}
TIMEOUT_S = 240


def _args(model, tiny_data, out) -> list[str]:
    return ["unlearn", "--model", str(model), "--train", str(tiny_data["train"]), "--eval", str(tiny_data["eval"]),
            "--forget-class", tiny_data["forget_class"], "--out", str(out), "--device", "cpu",
            "--max-length", "48", "--min-forget", "5", "--settings", json.dumps(SETTINGS), "--quiet",
            "--request-id", "REQ-2P"]


def _torchrun(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, STEU_HOME=str(home), OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT),
               TORCHELASTIC_ERROR_FILE="")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "steu_core", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def _patch(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run_dir / "patch.safetensors"))


def test_two_processes_give_the_single_process_result(tiny_bert, tiny_data, tmp_path):
    one = run_unlearning(UnlearnRequest(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
                                        forget_class=tiny_data["forget_class"], out=tmp_path / "one",
                                        settings=SETTINGS, device="cpu", max_length=48, min_forget=5,
                                        record_ledger=False))
    home = tmp_path / "home2"
    two = tmp_path / "two"
    proc = _torchrun(_args(tiny_bert, tiny_data, two), home)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("Run two finished") == 1  # process 0 alone prints the summary

    a, b = (json.loads((d / "results.json").read_text()) for d in (one, two))
    assert a["processes"] == 1 and b["processes"] == 2
    assert [t["id"] for t in a["selected_tokens"]] == [t["id"] for t in b["selected_tokens"]]
    assert [(t["df_forget"], t["df_total"]) for t in a["selected_tokens"]] == \
        [(t["df_forget"], t["df_total"]) for t in b["selected_tokens"]]
    for key in ("forget_f1_before", "forget_f1_after", "retain_f1_before", "retain_f1_after",
                "macro_f1_before", "macro_f1_after", "per_class_f1_after", "confusion_after", "params_changed"):
        assert a[key] == b[key], key
    assert b["param_diff_verdict"] == "pass" and b["encoder_unchanged"] is True
    assert a["training"]["history"][0]["loss"] == pytest.approx(b["training"]["history"][0]["loss"], rel=1e-5)
    pa, pb = _patch(one), _patch(two)
    assert set(pa) == set(pb) and torch.equal(pa["row_ids"], pb["row_ids"])
    for key in pa:  # trained rows and head: equal up to float summation order
        assert torch.allclose(pa[key].float(), pb[key].float(), atol=2e-3, rtol=1e-3), key
    # process 0 alone wrote: one finished run directory, nothing staged, one request + one run entry
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert not staging_dir(two).exists()
    entries = Ledger(home / "ledger.sqlite").entries()
    assert [e["kind"] for e in entries] == ["request", "run"]
    assert entries[1]["payload"]["outcome"] == "success" and Ledger(home / "ledger.sqlite").verify().ok


def test_an_error_on_process_0_alone_stops_both_with_its_message(tiny_bert, tiny_data, tmp_path):
    out = tmp_path / "busy"
    stage = staging_dir(out)
    stage.mkdir()
    # a live process (this test) appears to be writing the run: process 0 refuses to claim it
    (stage / "progress.json").write_text(json.dumps({"state": "running", "pid": os.getpid()}))
    proc = _torchrun(_args(tiny_bert, tiny_data, out), tmp_path / "home")
    assert proc.returncode != 0
    # both processes report process 0's refusal (none hangs waiting for the other)
    assert proc.stderr.count("is already writing") == 2, proc.stderr[-3000:]
    assert not out.exists()
