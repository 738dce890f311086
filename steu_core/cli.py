"""``python -m steu_core``: the same calls the dashboard makes, for pipelines.

Every user error prints one clear message (no traceback) and exits with status 2; set
STEU_DEBUG=1 to see tracebacks.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .errors import SteuError

EXIT_USER_ERROR, EXIT_INTERNAL, EXIT_VERIFY_FAILED, EXIT_CANCELLED = 2, 1, 3, 130


def _add_data_columns(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-column", help="column holding the note text (detected if omitted)")
    p.add_argument("--label-column", help="column holding the label (detected if omitted)")


class _Bar:
    """A tqdm progress bar that follows the stages of a run."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar, self.stage = quiet, None, None

    def __call__(self, info: dict) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        stage, total = info.get("stage"), info.get("total") or None
        if stage != self.stage:
            if self.bar is not None:
                self.bar.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=str(stage), unit="step", file=sys.stderr, leave=False)
        if self.bar is not None and total:
            self.bar.total = total
            self.bar.n = min(int(info.get("step") or 0), total)
            losses = info.get("losses") or {}
            if losses:
                self.bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _settings(args) -> dict:
    try:
        settings = json.loads(args.settings) if args.settings else {}
    except ValueError as exc:
        raise SteuError(f"--settings is not valid JSON ({type(exc).__name__} at character {getattr(exc, 'pos', '?')}).",
                        hint="Give a JSON object in single quotes, e.g. --settings '{\"max_steps\": 40}'.") from None
    if not isinstance(settings, dict):
        raise SteuError("--settings must be a JSON object, e.g. '{\"max_steps\": 40}'.")
    if args.k is not None:
        settings["k"] = args.k
    if args.budget is not None:
        settings["budget"] = args.budget
    return settings


def cmd_train(args) -> int:
    from .data import load_notes
    from .train import TrainConfig, train_classifier

    notes = load_notes(args.train, text_column=args.text_column, label_column=args.label_column)
    cfg = TrainConfig(epochs=args.epochs, max_length=args.max_length, seed=args.seed, batch_size=args.batch_size,
                      lr=args.lr)
    bar = _Bar(args.quiet)
    try:
        out, summary = train_classifier(args.base, notes, args.out, cfg, device=args.device, progress=bar)
    finally:
        bar.close()
    print(f"Saved the fine-tuned classifier to {out} ({summary['steps']} steps, {summary['seconds']:.0f} s, "
          f"final loss {summary['final_loss']:.3f}; {summary['truncated']} note(s) truncated to {cfg.max_length} tokens).")
    return 0


def cmd_unlearn(args) -> int:
    from .runs import UnlearnRequest, run_unlearning

    req = UnlearnRequest(model=args.model, train=args.train, eval=args.eval, forget=args.forget,
                         forget_class=args.forget_class, out=args.out, method=args.method,
                         settings=_settings(args), seed=args.seed, device=args.device,
                         text_column=args.text_column, label_column=args.label_column,
                         max_length=args.max_length, min_forget=args.min_forget, allow_pickle=args.allow_pickle,
                         use_cache=not args.no_cache, request_id=args.request_id, requester=args.requester,
                         reason=args.reason, operator=args.operator or os.environ.get("USER", ""),
                         batch_size=args.batch_size, max_file_mb=args.max_file_mb, lock_wait_s=args.wait,
                         precision=args.precision)

    def waiting(holder: dict) -> None:
        who = f" (process {holder['pid']})" if holder.get("pid") else ""
        print(f"Another run on this model is in progress{who}; waiting up to {args.wait:.0f} s for it to finish ...",
              file=sys.stderr, flush=True)

    from . import distributed

    bar = _Bar(args.quiet or distributed.requested_world_size() > 1 and os.environ.get("RANK", "0") != "0")
    try:
        out = run_unlearning(req, progress=bar, on_wait=waiting)
    finally:
        bar.close()
        main_process = distributed.current().is_main
        distributed.teardown()  # several processes (torchrun / accelerate launch): leave the group
    if not main_process:  # process 0 prints the summary
        return 0
    r = json.loads((out / "results.json").read_text())
    print(summary_text(r, out))
    return 0


def summary_text(r: dict, out: Path) -> str:
    mia = r.get("mia", {})
    lines = [
        f"Run {r['run_id']} finished: {out}",
        f"  method {r['method']}, forget class '{r['forget_class']}', k = {r['k']} rows, device {r['device']}",
        f"  forget F1  {r['forget_f1_before']:.4f} -> {r['forget_f1_after']:.4f}",
        f"  retain F1  {r['retain_f1_before']:.4f} -> {r['retain_f1_after']:.4f}",
        f"  macro F1   {r['macro_f1_before']:.4f} -> {r['macro_f1_after']:.4f}",
    ]
    if "loss_auc_before" in mia:
        lo, hi = mia["loss_auc_ci_after"]
        lines.append(f"  MIA loss AUC {mia['loss_auc_before']:.4f} -> {mia['loss_auc_after']:.4f} "
                     f"(95% CI {lo:.3f}-{hi:.3f}; 0.5 = attacker guessing)")
    lines += [
        f"  parameters changed {r['params_changed']:,} of {r['params_total']:,} "
        f"({100 * r['params_changed_fraction']:.3f} %), forget-set coverage {100 * r['coverage']['fraction']:.1f} %",
        f"  parameter diff: {r['param_diff_verdict'].upper()} - {r['param_diff_message']}",
        f"  time: select {r['wall_seconds']['select']:.1f} s, unlearn {r['wall_seconds']['unlearn']:.1f} s, "
        f"audit {r['wall_seconds']['audit']:.1f} s",
    ]
    trunc = (r.get("data") or {}).get("truncated_notes") or {}
    n_trunc = {k: v for k, v in trunc.items() if k != "max_length" and v}
    if n_trunc:
        parts = ", ".join(f"{v} {k}" for k, v in n_trunc.items())
        lines.append(f"  note: {parts} note(s) were longer than {trunc.get('max_length')} tokens and were truncated "
                     "(raise --max-length to use more of each note)")
    for w in r.get("warnings") or []:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def _model_dir(path: Path) -> Path:
    return path / "model" if (path / "model" / "config.json").is_file() else path


def cmd_verify(args) -> int:
    from .audits.param_diff import diff_states, load_state
    from .methods.base import AllowedChanges
    from .demo import resolve_model_path
    from .model import load_classifier

    original, unlearned = Path(args.original), Path(args.unlearned)
    new_dir = _model_dir(unlearned)
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


def cmd_patch(args) -> int:
    from safetensors.torch import save_file

    from .audits.param_diff import load_state
    from .model import hash_directory
    from .patch import apply_patch, load_patch, revert_patch

    src, out = Path(args.model), Path(args.out)
    if out.exists():
        raise SteuError(f"output directory '{out}' already exists.", hint="Choose a new --out.")
    src_dir = _model_dir(src)
    files = sorted(src_dir.glob("*.safetensors"))
    if len(files) != 1:
        raise SteuError(f"'{src_dir}' must hold exactly one .safetensors file to patch (found {len(files)}).")
    try:
        patch = load_patch(args.patch)
        fn = apply_patch if args.action == "apply" else revert_patch
        state = fn(load_state(src_dir), patch)
    except ValueError as exc:
        raise SteuError(str(exc)) from None
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if out.parent.exists() else None))
    try:
        for f in src_dir.iterdir():
            if f.is_file() and f.suffix != ".safetensors":
                shutil.copy2(f, tmp / f.name)
        save_file(state, str(tmp / files[0].name), metadata={"format": "pt"})
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"{args.action} -> {out} (sha256 {hash_directory(out)['sha256']})")
    return 0


def cmd_runs(args) -> int:
    from .runs import list_runs

    rows = list_runs()
    if not rows:
        print("No finished runs in the data directory yet.")
    for r in rows:
        print(f"{r['run_id']}  {r['created_utc']}  {r['method']}  forget '{r['forget_class']}'  "
              f"forget F1 {r['forget_f1_before']:.3f}->{r['forget_f1_after']:.3f}  "
              f"retain F1 {r['retain_f1_before']:.3f}->{r['retain_f1_after']:.3f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m steu_core", description="STEU Audit: make a clinical text "
                                "classifier forget one class, verify it, and report it.")
    p.add_argument("--version", action="version", version=f"steu-audit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="fine-tune a classifier (all parameters) on a labelled file")
    t.add_argument("--base", default="default", help="'default' (packaged MiniLM) or a local checkpoint directory")
    t.add_argument("--train", required=True, help="CSV / JSONL / Parquet of labelled notes")
    t.add_argument("--out", required=True, help="new directory for the classifier")
    _add_data_columns(t)
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--max-length", type=int, default=128)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=8e-5)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    u = sub.add_parser("unlearn", help="make a classifier forget one class, audit it, write a run directory")
    u.add_argument("--model", default="default", help="'default' (the demo classifier) or a local checkpoint directory")
    u.add_argument("--train", required=True, help="the training notes (the retain set is its other classes)")
    u.add_argument("--eval", required=True, help="held-out notes for the audits")
    u.add_argument("--forget-class", required=True, help="label name or id of the class to forget")
    u.add_argument("--forget", help="forget-set file (default: the training notes of the forget class)")
    u.add_argument("--out", required=True, help="new directory for the run (must not exist)")
    u.add_argument("--method", default="steu", help="unlearning method (default steu)")
    g = u.add_mutually_exclusive_group()
    g.add_argument("--k", type=int, help="number of embedding rows to edit")
    g.add_argument("--budget", type=float, help="fraction of all parameters that may change (default 0.0019)")
    u.add_argument("--settings", help="JSON object of further method settings, e.g. '{\"max_steps\": 40}'")
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps")
    u.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="autocast: auto = on CUDA bf16 where supported (fp16 for scoring otherwise), fp32 "
                        "elsewhere; fp32 = none; fp16 needs a CUDA GPU; bf16 needs a CUDA GPU or a CPU with "
                        "AMX / AVX-512 BF16 (there about 2x faster, not bit-exact)")
    u.add_argument("--max-length", type=int, default=128, help="tokens per note (longer notes are truncated)")
    u.add_argument("--min-forget", type=int, default=10, help="fewest forget examples accepted")
    u.add_argument("--batch-size", type=int, default=64, help="notes per batch when scoring (lower it if the GPU runs out of memory)")
    u.add_argument("--max-file-mb", type=float, default=200, help="refuse data files larger than this many MB")
    u.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="if another run on the same model is in progress, wait up to this long (default: refuse at once)")
    u.add_argument("--no-cache", action="store_true", help="disable the exact feature cache (for benchmarks)")
    u.add_argument("--allow-pickle", action="store_true", help="accept pickle weights (pytorch_model.bin) - runs code from the file")
    u.add_argument("--request-id", default="", help="deletion request id (recorded in the ledger and report)")
    u.add_argument("--requester", default="")
    u.add_argument("--reason", default="")
    u.add_argument("--operator", default="", help="who runs it (default: $USER)")
    u.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_data_columns(u)
    u.set_defaults(func=cmd_unlearn)

    v = sub.add_parser("verify", help="rerun the parameter diff between an original and an unlearned model")
    v.add_argument("--original", required=True, help="the original checkpoint directory")
    v.add_argument("--unlearned", required=True, help="the run directory or its model/ directory")
    v.set_defaults(func=cmd_verify)

    pa = sub.add_parser("patch", help="apply or revert a run's patch.safetensors")
    pa.add_argument("action", choices=["apply", "revert"])
    pa.add_argument("--model", required=True, help="model to patch (original for apply, unlearned for revert)")
    pa.add_argument("--patch", required=True, help="patch.safetensors of a run")
    pa.add_argument("--out", required=True, help="new directory for the result")
    pa.set_defaults(func=cmd_patch)

    r = sub.add_parser("runs", help="list finished runs in the data directory")
    r.set_defaults(func=cmd_runs)

    for module in ("ledger", "report", "compare"):
        try:
            mod = __import__(f"steu_core.{module}", fromlist=["register_cli"])
        except ImportError:
            continue
        if hasattr(mod, "register_cli"):
            mod.register_cli(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SteuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANCELLED if type(exc).__name__ == "Cancelled" else EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:
        if os.environ.get("STEU_DEBUG"):
            raise
        from .errors import as_user_error

        user_error = as_user_error(exc)
        if user_error is not None:  # a full disk, an exhausted GPU
            print(f"error: {user_error}", file=sys.stderr)
            return EXIT_USER_ERROR
        # The message of an unexpected exception may quote a value from a data file (PHI): show the
        # type and where it happened, and the full traceback only on request.
        print(f"internal error: {type(exc).__name__} at {_where(exc)} (set STEU_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_INTERNAL


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame of the traceback (our code if possible); never a message."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "steu_core" in f.filename] or frames
    if not ours:
        return "an unknown place"
    f = ours[-1]
    return f"{Path(f.filename).name}:{f.lineno} ({f.name})"
