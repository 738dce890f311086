"""``verify``: check a finished run against the hashes its ledger entry recorded, and rerun the
parameter diff with what the (hash-checked) patch allows to change. results.json is never trusted."""
from __future__ import annotations

from pathlib import Path

from ..demo import resolve_model_path
from ..format import percent
from ..ledger import Ledger
from ..model import load_classifier
from ..runs.verify import verify_run

EXIT_VERIFY_FAILED = 1


def model_dir_of(path: Path) -> Path:
    """A run directory's model/, or the path itself when it is a model directory."""
    return path / "model" if (path / "model" / "config.json").is_file() else path


def cmd_verify(args) -> int:
    original = resolve_model_path(args.original)
    clf = load_classifier(original, device="cpu")
    v = verify_run(clf, original, args.unlearned, Ledger(args.ledger))
    print(f"Verifying {v.run_dir} against its ledger entry (results.json is not read: only its SHA-256 is "
          "compared with the one the entry pinned).")
    for c in v.checks:
        print(f"{'PASS' if c.ok else 'FAIL'}  {c.name}: {c.message}")
    if v.diff is not None:
        d = v.diff
        print(f"Tensors changed: {', '.join(d['changed_tensors']) or 'none'}")
        print(f"Embedding rows changed: {d['changed_embedding_rows']}; parameters changed {d['params_changed']:,} of "
              f"{d['params_total']:,} ({percent(d['params_changed_fraction'])})")
        print(f"Encoder bit-identical: {'yes' if d['encoder_unchanged'] else 'NO'}")
    failed = [c.name for c in v.checks if not c.ok]
    print(f"Verdict: {'PASS' if v.ok else 'FAIL'}" + (f" - failed: {', '.join(failed)}" if failed else ""))
    return 0 if v.ok else EXIT_VERIFY_FAILED


def register(sub) -> None:
    v = sub.add_parser("verify", help="check a finished run against its ledger entry: only the patch's rows and the "
                                      "head changed, and patch and manifest are the ones recorded (exit 1 if not)")
    v.add_argument("--original", required=True, help="the original checkpoint directory")
    v.add_argument("--unlearned", required=True, help="the run directory (or its model/ directory)")
    v.add_argument("--ledger", help="the ledger file that holds the run's entry (default: the data directory's "
                                    "ledger.sqlite)")
    v.set_defaults(func=cmd_verify)
