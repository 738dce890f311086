"""Every unlearning method on the same request, with the deep audits: Medical Abstracts, forget class 2
(digestive system diseases), in one process on this machine.

    python bench/compare_methods.py [--methods steu,head_only,...] [--audit-settings JSON] [--out DIR]

Split and original model as in bench/common.py (stratified 60/40 split seed 0, MiniLM fine-tuned
3 epochs at max length 128, cached under bench/out/). The oracle is retrained from the same
pretrained MiniLM with the original's training settings. Prints the comparison table (forget F1,
retain F1, loss-MIA AUC, RMIA AUC, probe AUC, KS vs oracle, relearning steps, coverage, % params,
wall seconds, ratio to the oracle's time), the differences outside the noise, and what STEU's
embedding edit adds over training the head alone. Figures are from this shared 2-core CPU.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time

from common import FORGET_CLASS, MAX_LENGTH, OUT, TRAIN_CONFIG, original_model, split

from steu_core.compare import DEFAULT_METHODS, CompareRequest, load_comparison_dir, run_comparison, table_text
from steu_core.data import load_notes, write_notes


def retain_without_forget_texts(train_csv):
    """The training file minus the other-label copies of forget-class abstracts.

    Medical Abstracts holds some abstracts under two labels. The runner accepts, with a warning, forget
    notes that also sit in the retain set under another label (the retain term keeps training them
    towards that label); this comparison drops those copies from the retain side instead, so the whole
    abstract is to be forgotten by every method and the oracle never sees it. The original model is
    still the one trained on the full split (the deployed model).
    """
    notes = load_notes(train_csv)
    forget_texts = {t for t, y in zip(notes.texts, notes.labels) if y == FORGET_CLASS}
    keep = [i for i, (t, y) in enumerate(zip(notes.texts, notes.labels)) if y == FORGET_CLASS or t not in forget_texts]
    target = OUT / "ma_train_request.jsonl"
    if not target.is_file():
        write_notes(notes.subset(keep, name=target.name), target)
    print(f"Request training file: {len(notes) - len(keep)} other-label copies of forget-class abstracts dropped "
          f"from the retain side ({len(keep)} of {len(notes)} notes kept)", flush=True)
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    ap.add_argument("--audit-settings", default="{}", help="JSON, e.g. '{\"relearn\": {\"max_steps\": 100}}'")
    ap.add_argument("--out", default=str(OUT / "compare"))
    args = ap.parse_args()

    paths = split()
    model, train_s = original_model(paths)
    if train_s is not None:
        print(f"Fine-tuned the original in {train_s:.0f} s", flush=True)
    paths = {**paths, "train": retain_without_forget_texts(paths["train"])}
    out = OUT / args.out if not args.out.startswith("/") else args.out
    shutil.rmtree(out, ignore_errors=True)
    methods = [m for m in args.methods.split(",") if m]
    settings = {"retrain_oracle": {"epochs": TRAIN_CONFIG.epochs, "lr": TRAIN_CONFIG.lr,
                                   "batch_size": TRAIN_CONFIG.batch_size}} if "retrain_oracle" in methods else {}
    last = [None]

    def show(state: dict) -> None:
        key = (state.get("stage"), state.get("method"), (state.get("run") or {}).get("stage"))
        if key != last[0]:
            last[0] = key
            inner = (state.get("run") or {}).get("stage")
            print(f"[{state.get('elapsed_s', 0):7.1f} s] {state.get('stage')} {state.get('method') or ''}"
                  f"{': ' + inner if inner else ''}", flush=True)

    t0 = time.perf_counter()
    run_comparison(CompareRequest(model=str(model), train=paths["train"], eval=paths["eval"],
                                  forget_class=FORGET_CLASS, out=out, methods=methods, settings=settings,
                                  audit_settings=json.loads(args.audit_settings), max_length=MAX_LENGTH,
                                  request_id="bench-compare", lock_wait_s=7200), progress=show)
    c = load_comparison_dir(out)
    d = c["data"]
    print(f"\nMedical Abstracts, forget class {FORGET_CLASS}; train {d['train']['rows']} / eval {d['eval_rows']} "
          f"notes; forget {d['forget']['rows']}, retain {d['retain_rows']}; max length {MAX_LENGTH}; "
          f"device {c['device']}; {time.perf_counter() - t0:.0f} s in all\n")
    print(table_text(c))
    a = c["audits"]
    rm = a.get("reference_mia", {})
    if "reference_features" in rm:
        print(f"\nRMIA: {rm['n_reference']} reference heads on {rm['reference_features']} features; "
              f"{rm['n_members']} members vs {rm['n_nonmembers']} non-members; the references' own IN-vs-OUT "
              f"AUC {rm['reference_in_out_auc']:.3f}")
    rl = a.get("relearn", {})
    if rl:
        print(f"Relearning: mode {rl['mode']}, lr {rl['lr']}, at most {rl['max_steps']} steps, "
              f"{rl['repeats']} draws per n; steps per draw:")
        for name, row in rl["per_model"].items():
            print(f"  {name:<16}" + "  ".join(f"n={k[1:]}: {v['steps']}" for k, v in row.items() if k.startswith("n")))
    pr = a.get("probe", {}).get("per_model", {})
    if pr:
        print("Probe AUC (features) vs output AUC (the model's own p(forget class)):")
        for name, row in pr.items():
            print(f"  {name:<16}probe {row.get('probe_auc', float('nan')):.3f}  output {row['output_auc']:.3f}")
    print("\nDifferences outside the noise (95 % intervals do not overlap); all other pairs are within it:")
    for line in c["findings"]:
        print(f"  - {line}")
    print(f"\nWritten: {out}/comparison.json, comparison.csv")


if __name__ == "__main__":
    main()
