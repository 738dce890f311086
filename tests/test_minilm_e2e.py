"""The real default model end to end: the packaged MiniLM, fine-tuned briefly on a slice of
data_samples, then STEU on the sensitive class through the CLI. About a minute on 2 CPU cores."""
from __future__ import annotations

import json

import pytest

from steu_core.cli import main
from steu_core.data import load_notes, write_notes
from steu_core.demo import DEMO_FORGET_CLASS, DEMO_TEST, DEMO_TRAIN
from steu_core.model import hash_directory
from steu_core.train import TrainConfig, train_classifier

pytestmark = pytest.mark.slow


def _slice(notes, per_class):
    idx, seen = [], {}
    for i, y in enumerate(notes.labels):
        if seen.get(y, 0) < per_class:
            seen[y] = seen.get(y, 0) + 1
            idx.append(i)
    return notes.subset(idx)


@pytest.fixture(scope="module")
def minilm_classifier(tmp_path_factory):
    d = tmp_path_factory.mktemp("minilm")
    train = _slice(load_notes(DEMO_TRAIN), 40)
    evaluation = _slice(load_notes(DEMO_TEST), 20)
    write_notes(train, d / "train.csv")
    write_notes(evaluation, d / "eval.csv")
    model, _ = train_classifier("default", train, d / "model",
                                TrainConfig(epochs=2, batch_size=16, lr=2e-4, max_length=64, seed=0), device="cpu")
    return {"model": model, "train": d / "train.csv", "eval": d / "eval.csv"}


def test_minilm_forgets_the_sensitive_class(minilm_classifier, tmp_path, capsys):
    m = minilm_classifier
    before = hash_directory(m["model"])
    out = tmp_path / "run"
    code = main(["unlearn", "--model", str(m["model"]), "--train", str(m["train"]), "--eval", str(m["eval"]),
                 "--forget-class", DEMO_FORGET_CLASS, "--out", str(out), "--max-length", "64", "--device", "cpu",
                 "--quiet", "--request-id", "TEST-1"])
    assert code == 0, capsys.readouterr().err
    r = json.loads((out / "results.json").read_text())
    assert r["model"]["architecture"] == "BertForSequenceClassification" and r["model"]["params_total"] > 22_000_000
    assert r["forget_f1_before"] >= 0.5
    assert r["forget_f1_after"] <= 0.01
    assert r["retain_f1_after"] >= r["retain_f1_before"] - 0.05
    assert r["params_changed_fraction"] <= 0.002
    assert r["param_diff_verdict"] == "pass" and r["encoder_unchanged"]
    assert hash_directory(m["model"]) == before
    assert main(["ledger", "verify"]) == 0
