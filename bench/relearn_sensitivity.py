"""How sensitive is the relearning test to the attacker's strength? Reruns only the relearn audit on
the run directories of a finished ``bench/compare_methods.py`` comparison (bench/out/compare/), with a
stronger head-only attacker and with full-model fine-tuning, and prints the steps per draw.

    python bench/relearn_sensitivity.py [--dir bench/out/compare] [--methods steu,head_only,retrain_oracle]

The default comparison uses head relearning at lr 1e-3 for at most 100 steps; a "> 100" there can
mean "the class is gone from the features" or merely "the head was pushed far and the attacker is
slow" - the oracle, whose features still separate the class (probe AUC), shows which.
"""
from __future__ import annotations

import argparse
import time

from common import FORGET_CLASS, MAX_LENGTH, OUT

from steu_core.audits.deep import run_deep_audits
from steu_core.compare import CompareRequest, deep_inputs_from_runs

SETTINGS = [
    ("head, lr 1e-3 (the comparison's)", "relearn", {"lr": 1e-3, "max_steps": 100, "repeats": 5}),
    ("head, lr 1e-2", "relearn", {"lr": 1e-2, "max_steps": 100, "repeats": 5}),
    ("full model (the relearn_full audit's defaults: lr 5e-5, n=8, check every 2 steps on 300 eval notes)",
     "relearn_full", {"draws": 5}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=str(OUT / "compare"))
    ap.add_argument("--methods", default="steu,steu_rows_only,head_only,random_tokens,retrain_oracle")
    args = ap.parse_args()
    original = next(p for p in OUT.glob("original-*") if (p / "config.json").is_file())
    req = CompareRequest(model=str(original), train=OUT / "ma_train_request.jsonl", eval=OUT / "ma_eval.csv",
                         forget_class=FORGET_CLASS, out=OUT / "unused", methods=args.methods.split(","),
                         max_length=MAX_LENGTH, n_boot=1000)
    t0 = time.perf_counter()
    inputs = deep_inputs_from_runs(req, args.dir)
    print(f"scored {len(inputs.models)} models in {time.perf_counter() - t0:.0f} s", flush=True)
    for title, audit, settings in SETTINGS:
        t0 = time.perf_counter()
        inputs.settings = {audit: {"n_values": [8, 32], **settings} if audit == "relearn" else settings}
        r = run_deep_audits(inputs, [audit])[audit]
        print(f"\nRelearning, {title}: steps to forget F1 > 0.5 per draw (None = never within "
              f"{r['max_steps']}), {time.perf_counter() - t0:.0f} s")
        for name, row in r["per_model"].items():
            print(f"  {name:<16}" + "  ".join(f"n={k[1:]}: {v['steps']} (median {v['text']}, CI {v['ci_text']})"
                                            for k, v in row.items() if k.startswith("n")), flush=True)

if __name__ == "__main__":
    main()
