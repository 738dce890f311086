"""``train``: fine-tune a classifier (all parameters) on a labelled file."""
from __future__ import annotations

from pathlib import Path

from ..data import load_notes
from ..deletion.deploy import MODEL_KIND
from ..ledger import Ledger
from ..model import hash_directory
from ..train import TrainConfig, check_new_output, train_classifier
from ..training_manifest import read_manifest
from .progress import ProgressBar


def cmd_train(args) -> int:
    cfg = TrainConfig(epochs=args.epochs, max_length=args.max_length, seed=args.seed, batch_size=args.batch_size,
                      lr=args.lr)
    cfg.validate()  # settings and --out first: a mistake there costs no loading and writes nothing
    check_new_output(Path(args.out))
    notes = load_notes(args.train, text_column=args.text_column, label_column=args.label_column)
    bar = ProgressBar(args.quiet)
    try:
        out, summary = train_classifier(args.base, notes, args.out, cfg, device=args.device, progress=bar)
    finally:
        bar.close()
    record_model(out, args.base)
    print(f"Saved the fine-tuned classifier to {out} ({summary['steps']} steps, {summary['seconds']:.0f} s, "
          f"final loss {summary['final_loss']:.3f}; {summary['truncated']} note(s) truncated to {cfg.max_length} tokens).")
    return 0


def record_model(out: Path, base: str) -> dict:
    """A ledger entry for the new model (its hash, base and manifest root): a model trained after a deletion request
    was received is then found and named if it holds the request's notes (steu_core.deletion.deploy)."""
    manifest, listed = read_manifest(out)
    return Ledger().append(MODEL_KIND, {"model_sha256": hash_directory(out)["sha256"], "path": str(out.resolve()),
                                        "base": str(base), "base_sha256": manifest["base"]["sha256"],
                                        **listed.summary()})


def register(sub) -> None:
    t = sub.add_parser("train", help="fine-tune a classifier (all parameters) on a labelled file")
    t.add_argument("--base", default="default", help="'default' (packaged MiniLM) or a local checkpoint directory")
    t.add_argument("--train", required=True, help="CSV / JSONL / Parquet of labelled notes")
    t.add_argument("--out", required=True, help="new directory for the classifier")
    t.add_argument("--text-column", help="column holding the note text (detected if omitted)")
    t.add_argument("--label-column", help="column holding the label (detected if omitted)")
    defaults = TrainConfig()  # the training defaults have one home: TrainConfig
    t.add_argument("--epochs", type=int, default=defaults.epochs)
    t.add_argument("--max-length", type=int, default=defaults.max_length)
    t.add_argument("--batch-size", type=int, default=defaults.batch_size)
    t.add_argument("--lr", type=float, default=defaults.lr)
    t.add_argument("--seed", type=int, default=defaults.seed)
    t.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)
