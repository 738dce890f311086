"""The embedded default classifier: the packaged pretrained all-MiniLM-L6-v2, fine-tuned once on
data_samples/train.csv and kept in the model store. Later calls load it in seconds."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

from filelock import FileLock

from . import __version__
from .data import load_notes
from .paths import models_dir
from .train import TrainConfig, train_classifier

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "data_samples"
DEMO_TRAIN = SAMPLES_DIR / "train.csv"
DEMO_TEST = SAMPLES_DIR / "test.csv"
DEMO_FORGET = SAMPLES_DIR / "forget_substance_use.csv"
DEMO_FORGET_CLASS = "substance_use_disorder"
# One epoch at a higher rate, so the first dashboard run (demo model included) stays within a few minutes on
# 2 CPU cores: macro F1 0.97 on test.csv. max_length 128 holds every sample note whole (at most 123 tokens:
# data_samples/README.md, tests/test_data_samples.py).
DEMO_CONFIG = TrainConfig(epochs=1, batch_size=16, lr=2e-4, max_length=128, seed=0)


def demo_model_dir() -> Path:
    """Where the demo model for the current sample data and settings lives (keyed by their hash)."""
    h = hashlib.sha256()
    h.update(DEMO_TRAIN.read_bytes())
    h.update(json.dumps(DEMO_CONFIG.__dict__, sort_keys=True).encode())
    h.update(__version__.encode())
    return models_dir() / f"demo-minilm-{h.hexdigest()[:12]}"


def resolve_model_path(source: str | Path, progress: Callable[[dict], None] | None = None) -> Path:
    """The checkpoint directory a model argument names: ``"default"`` is the demo model (fine-tuned
    on first use, reporting to ``progress``); anything else is a local directory."""
    if str(source) == "default":
        return ensure_demo_model(progress=progress)
    return Path(source).expanduser()


def ensure_demo_model(progress: Callable[[dict], None] | None = None, device: str = "auto") -> Path:
    """The demo model directory, fine-tuning it first if it is not in the store yet.

    Without a ``progress`` callback a progress bar is shown on stderr.
    """
    target = demo_model_dir()
    if (target / "config.json").is_file():
        return target
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():  # another process built it while we waited
            return target
        notes = load_notes(DEMO_TRAIN)
        bar = None
        if progress is None:
            from tqdm import tqdm

            bar = tqdm(total=None, desc="Preparing the demo model (once)", unit="step")

            def progress(info: dict) -> None:
                bar.total = info["total"]
                bar.n = info["step"]
                bar.set_postfix(loss=f"{info['losses'].get('loss', 0):.3f}", refresh=False)
                bar.refresh()
        try:
            train_classifier("default", notes, target, DEMO_CONFIG, device=device, progress=progress)
        finally:
            if bar is not None:
                bar.close()
    return target
