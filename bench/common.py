"""Shared set-up of the Medical Abstracts benchmarks: the split and the fine-tuned original model.

Split: ../shared/datasets/medical_abstracts/medical_tc_test.csv, stratified 60/40, seed 0. The
original classifier is the default MiniLM fine-tuned on the 60 % part (3 epochs, max length 128),
built once and cached under bench/out/.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from steu_core.data import load_notes, stratified_split, write_notes  # noqa: E402
from steu_core.model import hash_directory  # noqa: E402
from steu_core.train import TrainConfig, train_classifier  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "medical_abstracts" / "medical_tc_test.csv"
OUT = ROOT / "bench" / "out"
FORGET_CLASS = "2"  # digestive system diseases
MAX_LENGTH = 128
TRAIN_CONFIG = TrainConfig(epochs=3, batch_size=16, lr=8e-5, max_length=MAX_LENGTH, seed=0)


def split() -> dict:
    """Write the 60/40 split as CSVs (once) and return their paths."""
    if not DATA.is_file():
        sys.exit(f"Medical Abstracts not found at {DATA} (expected ../shared/datasets/medical_abstracts/).")
    OUT.mkdir(parents=True, exist_ok=True)
    train_csv, eval_csv = OUT / "ma_train.csv", OUT / "ma_eval.csv"
    if not (train_csv.is_file() and eval_csv.is_file()):
        train, evaluation = stratified_split(load_notes(DATA), test_fraction=0.4, seed=0)
        write_notes(train, train_csv)
        write_notes(evaluation, eval_csv)
    return {"train": train_csv, "eval": eval_csv}


def original_model(paths: dict) -> tuple[Path, float | None]:
    """The fine-tuned original (cached); returns its path and the training seconds if trained now."""
    key = hashlib.sha256(paths["train"].read_bytes() + json.dumps(TRAIN_CONFIG.__dict__, sort_keys=True).encode())
    target = OUT / f"original-{key.hexdigest()[:10]}"
    if (target / "config.json").is_file():
        return target, None
    print(f"Fine-tuning the original classifier into {target} (once) ...", flush=True)
    t0 = time.perf_counter()
    train_classifier("default", load_notes(paths["train"]), target, TRAIN_CONFIG)
    return target, time.perf_counter() - t0


@lru_cache(maxsize=None)
def model_sha256(path: str) -> str:
    return hash_directory(path)["sha256"]


@lru_cache(maxsize=None)
def notes_sha256(path: str) -> str:
    return load_notes(path).sha256


def own_copy(model, name: str) -> str:
    """A copy of the shared demo model under bench/out/<name> (runs hold a per-model lock, and the dashboard and
    the tests use the shared one), copied again whenever the shared one changed (new sample data retrain it)."""
    target = OUT / name
    if not (target / "config.json").is_file() or model_sha256(str(target)) != model_sha256(str(model)):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(model, target)
        model_sha256.cache_clear()
    return str(target)


def run_is_current(results: dict, spec: dict) -> bool:
    """Whether a finished run in bench/out/ was made on this model and these files (a run kept from before the
    model or the data changed is run again, not read)."""
    data = results["data"]
    return (results["hashes"]["original_model"] == model_sha256(str(spec["model"]))
            and data["train"]["sha256"] == notes_sha256(str(spec["train"]))
            and data["eval"]["sha256"] == notes_sha256(str(spec["eval"])))
