"""``verify``: rerun the parameter diff between an original and an unlearned model."""
from __future__ import annotations

import json
from pathlib import Path

from ..audits.param_diff import diff_states, load_state
from ..methods.base import AllowedChanges
from ..demo import resolve_model_path
from ..model import load_classifier

EXIT_VERIFY_FAILED = 3


def model_dir_of(path: Path) -> Path:
    """A run directory's model/, or the path itself when it is a model directory."""
    return path / "model" if (path / "model" / "config.json").is_file() else path


def cmd_verify(args) -> int:
    original, unlearned = Path(args.original), Path(args.unlearned)
    new_dir = model_dir_of(unlearned)
    results_file = next((p for p in (unlearned / "results.json", new_dir.parent / "results.json") if p.is_file()), None)
    clf = load_classifier(resolve_model_path(original), device="cpu")
    if results_file:
        r = json.loads(results_file.read_text())
        ids = [t["id"] for t in r.get("selected_tokens", [])]
        method = r.get("method", "steu")
        allowed = AllowedChanges(embedding_rows=ids, head=method != "steu_rows_only",
                                 everything=method in {"grad_ascent", "finetune_retain", "retrain_oracle"})
        print(f"Checking against {results_file}: method {method}, {len(ids)} selected rows.")
    else:
        allowed = AllowedChanges(embedding_rows=list(range(clf.embedding.weight.shape[0])), head=True)
        print("No results.json next to the unlearned model: allowing any embedding row and the head.")
    d = diff_states(load_state(original), load_state(new_dir), embedding_name=clf.embedding_param_name,
                    head_names=clf.head_param_names, allowed=allowed, tokenizer=clf.tokenizer)
    print(f"Tensors changed: {', '.join(d['changed_tensors']) or 'none'}")
    print(f"Embedding rows changed: {d['changed_embedding_rows']}; parameters changed {d['params_changed']:,} of "
          f"{d['params_total']:,} ({100 * d['params_changed_fraction']:.4f} %)")
    print(f"Encoder bit-identical: {'yes' if d['encoder_unchanged'] else 'NO'}")
    print(f"Verdict: {d['param_diff_verdict'].upper()} - {d['param_diff_message']}")
    return 0 if d["param_diff_verdict"] == "pass" else EXIT_VERIFY_FAILED


def register(sub) -> None:
    v = sub.add_parser("verify", help="rerun the parameter diff between an original and an unlearned model")
    v.add_argument("--original", required=True, help="the original checkpoint directory")
    v.add_argument("--unlearned", required=True, help="the run directory or its model/ directory")
    v.set_defaults(func=cmd_verify)
