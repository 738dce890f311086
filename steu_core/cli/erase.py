"""``erase``: one retrain without the forget notes of several requests (then ``verify-erasure`` proves it)."""
from __future__ import annotations

from ..deletion.erase import TRAIN_OVERRIDES, erase
from ..format import printable
from .progress import ProgressBar


def cmd_erase(args) -> int:
    bar = ProgressBar(args.quiet)
    overrides = {k: getattr(args, k) for k in TRAIN_OVERRIDES}
    try:
        done = erase(args.requests.split(","), args.out, base=args.base, overrides=overrides, device=args.device,
                     checkpoint_every=args.checkpoint_every, actor=args.operator, progress=bar,
                     given={"train": args.train, "eval": args.eval})
    finally:
        bar.close()
    rec = done["erasure"]
    resumed = f", resumed at step {rec['resumed_at_step']}" if rec.get("resumed_at_step") else ""
    print(printable(f"Erased {', '.join(rec['requests'])}: model {rec['model_sha256'][:16]} trained on "
                    f"{rec['trained_notes']['count']} notes without {rec['removed_notes']} forget note(s) in "
                    f"{rec['seconds']:.0f} s{resumed}; settings from {rec['settings_source']}; saved to {done['out']}"))
    for rid, audit in done["audits"].items():
        each = ", ".join(f"{k} {x}" for k, x in audit["verdicts"].items())
        print(printable(f"  {rid}: verdict {audit['verdict']} ({each})"
                        f"; audit run {audit['run_dir']}"))
    print("Next: python -m steu_core verify-erasure --run " + done["out"] + " --request <id> --record")
    return 0


def register(sub) -> None:
    e = sub.add_parser("erase", help="retrain without the forget notes of one or more requests (one batch)")
    e.add_argument("--requests", required=True, help="comma-separated request ids erased by this one retrain")
    e.add_argument("--out", required=True, help="new directory for the erased model and its audits (the same "
                                                "directory again resumes a stopped erasure)")
    e.add_argument("--base", help="the checkpoint the original was fine-tuned from (default: from the original's "
                                  "training manifest; required when it has none)")
    for name, kind in (("epochs", int), ("batch_size", int), ("lr", float), ("max_length", int), ("seed", int)):
        e.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind,
                       help="training setting (default: the original's, from its training manifest)")
    e.add_argument("--train", help="the requests' training file where it is now (default: where the requests "
                                   "recorded it; checked by its SHA-256)")
    e.add_argument("--eval", help="the requests' evaluation file where it is now (checked by its SHA-256)")
    e.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps")
    e.add_argument("--checkpoint-every", type=int, default=25, help="save the training state every N steps")
    e.add_argument("--operator", default="", help="who runs the erasure (default: $USER)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_erase)
