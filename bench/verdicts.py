"""Every verdict of STEU and of the retrain without the forget notes, per threat model with its power, on
real data and several seeds.

    python bench/verdicts.py [--data sample,ma] [--seeds 3] [--methods steu,retrain_oracle]

Cases: the sample data (demo model, forget substance_use_disorder) and Medical Abstracts class 2
(digestive system diseases) on the fine-tuned MiniLM of bench/common.py. For every seed, one run of
``retrain_oracle`` (trained as the original was: the demo's or bench/common.py's settings) and one of
``steu``, each as an ordinary run (``run_unlearning``). The STEU run of a seed is read against that seed's
retrain as its reference (``steu_core.verdicts.compute_verdicts`` with ``runs.reference_of``: what a run on the
same model, class and data finds by itself once a retrain exists). Prints per run: the headline, every verdict
with its reason, each threat model's power (the strongest attack's AUC on the original) and AUC after, the
retained-notes macro F1 and where the forgotten notes went; then a summary table. The runs stay in
bench/out/verdicts-<data>-<method>-s<seed>/ (a finished run is reused; delete it to run it again).
"""
from __future__ import annotations

import argparse
import json
import shutil

from common import FORGET_CLASS, MAX_LENGTH, OUT, TRAIN_CONFIG, original_model, own_copy, run_is_current, split

from steu_core.demo import DEMO_CONFIG, DEMO_FORGET, DEMO_TEST, DEMO_TRAIN, resolve_model_path
from steu_core.runs import UnlearnRequest, reference_of, run_unlearning
from steu_core.verdicts import MODEL_FILE, OUTPUTS, compute_verdicts, headline

SAMPLE_CLASS = "substance_use_disorder"
ORACLE = "retrain_oracle"


def case(data: str) -> tuple[dict, dict]:
    """(the request's files and class, the retrain's settings: as the original was trained)."""
    if data == "sample":
        spec = {"model": own_copy(resolve_model_path("default"), "verdicts-demo-model"), "train": DEMO_TRAIN, "eval": DEMO_TEST,
                "forget": DEMO_FORGET, "forget_class": SAMPLE_CLASS}
        cfg = DEMO_CONFIG
    else:
        paths = split()
        spec = {"model": str(original_model(paths)[0]), "train": paths["train"], "eval": paths["eval"],
                "forget_class": FORGET_CLASS}
        cfg = TRAIN_CONFIG
    return spec, {"epochs": cfg.epochs, "lr": cfg.lr, "batch_size": cfg.batch_size}


def run(data: str, method: str, seed: int, spec: dict, settings: dict) -> tuple[dict, float]:
    """The run's results and its wall time (as the run recorded it: a finished run is reused)."""
    out = OUT / f"verdicts-{data}-{method}-s{seed}"
    r = finished_run(out, spec, method, seed, settings)
    return r, r["wall_seconds"]["total"]


def finished_run(out, spec: dict, method: str, seed: int, settings: dict) -> dict:
    """The results of the run in ``out``: read when it was made on the current model and files, else run now."""
    results = out / "results.json"
    if not (results.is_file() and run_is_current(json.loads(results.read_text()), spec)):
        shutil.rmtree(out, ignore_errors=True)
        run_unlearning(UnlearnRequest(**spec, out=out, method=method, seed=seed, max_length=MAX_LENGTH,
                                      settings=settings, record_ledger=False))
    return json.loads(results.read_text())


def power_text(v: dict) -> str:
    e = v["evidence"]
    if e.get("power_auc") is None:
        return "n/a"
    lo, hi = e["power_auc_ci"]
    alo, ahi = e["after_auc_ci"]
    return (f"power {e['power_attack']} {e['power_auc']:.3f} [{lo:.3f}, {hi:.3f}], after {e['attack']} "
            f"{e['after_auc']:.3f} [{alo:.3f}, {ahi:.3f}]")


def show(name: str, r: dict, v: dict, seconds: float) -> None:
    retained = r["collateral"]["retained_notes"]["retain_f1"]
    went = r["collateral"]["forgotten_notes"]
    print(f"\n== {name}: {r['method']}, seed {r['seed']}, {seconds:.1f} s; headline: {headline(v)}")
    for key in ("overall", "forgotten", "utility_kept"):
        print(f"  {key:<13} {v[key]['verdict']:<12} {v[key]['reason']}")
    for key in (OUTPUTS, MODEL_FILE):
        t = v["threat_models"][key]
        print(f"  {key:<13} {t['verdict']:<12} {power_text(t)}")
        print(f"  {'':<13} {t['reason']}")
    lo, hi = retained["change_ci"]
    print(f"  retained-notes macro F1 {retained['f1_before']:.3f} -> {retained['f1_after']:.3f} "
          f"(change [{lo:+.3f}, {hi:+.3f}]); the {went['n']} notes of the class went to "
          + ", ".join(f"{lab} {x['count']}" for lab, x in went["after"].items() if x["count"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="sample,ma")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--methods", default=f"steu,{ORACLE}")
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m != ORACLE]
    table = []
    for data in args.data.split(","):
        spec, oracle_settings = case(data)
        for seed in range(args.seeds):
            reference = None
            if ORACLE in args.methods:
                r, seconds = run(data, ORACLE, seed, spec, oracle_settings)
                reference = reference_of(r)
                v = compute_verdicts(r)
                show(data, r, v, seconds)
                table.append((data, ORACLE, seed, v, seconds))
            for method in methods:
                r, seconds = run(data, method, seed, spec, {})
                v = compute_verdicts(r, reference) if reference else r["verdicts"]
                show(data, r, v, seconds)
                table.append((data, method, seed, v, seconds))
    print("\ndata    method          seed  overall       forgotten     utility       outputs       model_file    power (outputs / model file)")
    for data, method, seed, v, _ in table:
        tm = v["threat_models"]
        powers = " / ".join(f"{tm[k]['evidence'].get('power_auc') or float('nan'):.3f}" for k in (OUTPUTS, MODEL_FILE))
        print(f"{data:<7} {method:<15} {seed:<5} {v['overall']['verdict']:<13} {v['forgotten']['verdict']:<13} "
              f"{v['utility_kept']['verdict']:<13} {tm[OUTPUTS]['verdict']:<13} {tm[MODEL_FILE]['verdict']:<13} {powers}")


if __name__ == "__main__":
    main()
