"""Forgetting against the strongest attacker: methods x seeds, with every figure the issue asks for.

    python bench/robustness.py [--data sample|ma] [--seeds 3] [--methods steu,steu_rows_only,head_only,retrain_oracle]
                               [--max-train N] [--max-eval N] [--draws 5] [--full-max-steps 20] [--settings JSON]

For every seed, one comparison (``steu_core.compare.run_comparison``, all methods in this process, so the
time ratio to the retrain oracle is measured on the same machine at the same time) with the deep audits:
utility intervals, loss-MIA (from each run) and RMIA, the probe, the layer-wise probe, the head-only and
the full-model relearning attacks. Prints per seed: forget / retain F1 with 95 % intervals, % parameters
changed, encoder unchanged, time ratio, both relearning attacks (median steps [order-statistic interval]),
loss-MIA and RMIA AUC [95 %], the probe AUC by depth; then the issue-13 target per method and seed.

Data: ``sample`` = data_samples/ with the demo model (``--model default``, cached); ``ma`` = Medical
Abstracts, forget class 2, the split and fine-tuned MiniLM of bench/common.py. ``--max-train`` /
``--max-eval`` take stratified subsamples (seed 0) so that a small run fits a shared CPU; the original
model is still the one trained on the full training file. The output is also written to
bench/out/robustness-<data>.txt; the comparisons stay in bench/out/robust-<data>-s<seed>/.

    python bench/robustness.py --indist [--data sample,ma] [--seeds 3] [--candidates ...] [--probe]

hands over to bench/indistinguishability.py: issue 27's table of sparse candidates against an attacker who sees
predictions (ordinary runs with the run's own audits, STEU's and the oracle's runs of bench/verdicts.py reused).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time

from common import FORGET_CLASS, MAX_LENGTH, OUT, TRAIN_CONFIG, original_model, own_copy, split

from steu_core.audits.deep_base import ORACLE, ORIGINAL
from steu_core.compare import CompareRequest, load_comparison_dir, run_comparison
from steu_core.compare.table import relearn_columns_of
from steu_core.data import load_notes, stratified_split, write_notes
from steu_core.demo import DEMO_CONFIG, DEMO_TEST, DEMO_TRAIN, resolve_model_path
from steu_core.verdicts import relearning

SAMPLE_CLASS = "substance_use_disorder"
AUDITS = ["utility_ci", "probe", "layer_probe", "hidden_mia", "reference_mia", "relearn", "relearn_full"]
# issue 13's target
FORGET_MAX, RETAIN_DROP, PARAMS_MAX, RATIO_MAX = 0.01, 0.01, 0.002, 0.1


def subsample(path, limit: int | None, name: str):
    """A stratified subsample of at most ``limit`` notes (seed 0), written under bench/out/; or the file itself."""
    notes = load_notes(path)
    if not limit or len(notes) <= limit:
        return path
    keep, _ = stratified_split(notes, test_fraction=1 - limit / len(notes), seed=0)
    target = OUT / f"{name}-{limit}.csv"
    write_notes(keep, target)
    return target


def request_files(args) -> dict:
    if args.data == "sample":
        model, train, evaluation, cls, cfg = own_copy(resolve_model_path("default"), "robust-demo-model"), DEMO_TRAIN, DEMO_TEST, SAMPLE_CLASS, DEMO_CONFIG
    else:
        paths = split()
        model, cls, cfg = str(original_model(paths)[0]), FORGET_CLASS, TRAIN_CONFIG
        train, evaluation = paths["train"], paths["eval"]
    return {"model": model, "forget_class": cls, "oracle": {"epochs": cfg.epochs, "lr": cfg.lr, "batch_size": cfg.batch_size},
            "train": subsample(train, args.max_train, f"robust-{args.data}-train"),
            "eval": subsample(evaluation, args.max_eval, f"robust-{args.data}-eval")}


def run_seed(args, files: dict, seed: int) -> dict:
    out = OUT / f"robust-{args.data}-s{seed}"
    if args.reuse and (out / "comparison.json").is_file():
        return load_comparison_dir(out)
    shutil.rmtree(out, ignore_errors=True)
    settings = {m: dict(s) for m, s in json.loads(args.settings).items()}
    if "retrain_oracle" in args.methods:
        settings["retrain_oracle"] = {**files["oracle"], **settings.get("retrain_oracle", {})}
    audit_settings = {"relearn": {"n_values": [8], "repeats": args.draws},
                      "relearn_full": {"draws": args.draws, "max_steps": args.full_max_steps, "eval_max": args.eval_max},
                      "layer_probe": {"eval_max": args.probe_max}}
    req = CompareRequest(model=files["model"], train=files["train"], eval=files["eval"], forget_class=files["forget_class"],
                         out=out, methods=args.methods, settings=settings, audits=AUDITS, audit_settings=audit_settings,
                         max_length=MAX_LENGTH, seed=seed, request_id="bench-robustness", lock_wait_s=7200)
    last = [None]

    def show(state: dict) -> None:
        key = (state.get("stage"), state.get("method"), (state.get("run") or {}).get("stage"))
        if key != last[0]:
            last[0] = key
            print(f"  [{state.get('elapsed_s', 0):7.1f} s] {key[0]} {key[1] or ''} {key[2] or ''}", flush=True)

    run_comparison(req, progress=show)
    return load_comparison_dir(out)


def ci(row: dict, key: str, digits: int = 3) -> str:
    v, c = row.get(key), row.get(f"{key}_ci")
    if v is None:
        return "n/a"
    return f"{v:.{digits}f}" + (f" [{c[0]:.{digits}f}, {c[1]:.{digits}f}]" if c else "")


def steps(audit: dict, name: str) -> str:
    per = (audit.get("per_model") or {}).get(name) or {}
    r = next((v for k, v in per.items() if k.startswith("n")), None)
    return "n/a" if not r else f"{r['text']} {r['ci_text']} {r['steps']}"


def probe_depths(audits: dict, name: str) -> str:
    depths = (((audits.get("layer_probe") or {}).get("per_model") or {}).get(name) or {}).get("depths") or []
    return " ".join(f"{d['auc']:.2f}" for d in depths) or "n/a"


def ratio(row: dict) -> str:
    v = row.get("time_ratio_to_oracle")
    return "n/a" if v is None else f"{v:.3g}"


def relearn_verdicts(c: dict) -> dict[str, dict]:
    """Every method's relearning verdict, judged by the current rule from the comparison's audits (so a
    comparison reused from before a change of the rule is judged like a new one)."""
    a = c["audits"]
    n_values = (a.get("relearn") or {}).get("n_values") or []
    rows = {r["method"]: {**r, **relearn_columns_of(r["method"], a, n_values)} for r in c["rows"]}
    return {m: relearning(r, rows.get(ORACLE), rows.get(ORIGINAL)) for m, r in rows.items()
            if m not in (ORIGINAL, ORACLE)}


def print_seed(c: dict, seed: int) -> None:
    a = c["audits"]
    judged = relearn_verdicts(c)
    print(f"\nseed {seed}: {c['data']['train']['rows']} training notes, {c['data']['eval_rows']} evaluation notes, "
          f"forget {c['data']['forget']['rows']}; {c['total_seconds']:.0f} s")
    print(f"  relearning: head attacker lr {a['relearn']['lr']}, max {a['relearn']['max_steps']}; full attacker "
          f"lr {a['relearn_full']['lr']}, n {a['relearn_full']['n']}, max {a['relearn_full']['max_steps']}, "
          f"{a['relearn_full']['draws']} draws, forget F1 on {a['relearn_full']['eval_notes']} notes")
    depths = [d["depth"] for d in next(iter(a.get("layer_probe", {}).get("per_model", {}).values()), {}).get("depths", [])]
    print(f"  probe by depth: {', '.join(depths)}")
    for r in c["rows"]:
        m = r["method"]
        pct = r.get("params_changed_fraction")
        print(f"  {m:<16} forget F1 {ci(r, 'forget_f1')}  retain F1 {ci(r, 'retain_f1')}  "
              f"params {'n/a' if pct is None else f'{100 * pct:.4g} %'}  encoder same {r.get('encoder_unchanged')}  "
              f"x oracle {ratio(r)}")
        print(f"  {'':<16} relearn head {steps(a['relearn'], m)} | full {steps(a['relearn_full'], m)} | "
              f"strongest {r.get('relearn_strongest_text')} ({r.get('relearn_strongest_attack')})")
        if m in judged:
            print(f"  {'':<16} relearning verdict: {judged[m]['verdict']} - {judged[m]['reason']}")
        print(f"  {'':<16} loss-MIA {ci(r, 'loss_mia_auc')}  RMIA {ci(r, 'ref_mia_auc')}  probe by depth {probe_depths(a, m)}")


def full_overlaps_oracle(c: dict, method: str) -> bool | None:
    """The full-model attacker's interval for ``method`` overlaps the oracle's (both may be censored)."""
    per = c["audits"]["relearn_full"]["per_model"]
    key = f"n{c['audits']['relearn_full']['n']}"
    if "retrain_oracle" not in per or method not in per:
        return None
    (lo_m, hi_m), (lo_o, hi_o) = per[method][key]["median_steps_ci"], per["retrain_oracle"][key]["median_steps_ci"]
    return lo_m <= hi_o and lo_o <= hi_m


def target(c: dict, row: dict, original: dict) -> dict:
    """Issue 13's target, criterion by criterion (None = could not be measured)."""
    ratio_v = row.get("time_ratio_to_oracle")
    return {"forget F1 <= 0.01": row["forget_f1"] <= FORGET_MAX,
            "retain F1 >= original - 0.01": row["retain_f1"] >= original["retain_f1"] - RETAIN_DROP,
            "<= 0.2 % params": (row.get("params_changed_fraction") or 0) <= PARAMS_MAX,
            "encoder bit-identical": bool(row.get("encoder_unchanged")),
            "full relearn overlaps oracle": full_overlaps_oracle(c, row["method"]),
            "time <= 1/10 oracle": None if ratio_v is None else ratio_v <= RATIO_MAX}


def print_targets(comparisons: dict[int, dict]) -> None:
    print("\nIssue 13 target per method and seed (yes / no / n/a):")
    for seed, c in comparisons.items():
        original = c["rows"][0]
        for row in c["rows"][1:]:
            if row["method"] == "retrain_oracle":
                continue
            t = target(c, row, original)
            word = {True: "yes", False: "no", None: "n/a"}
            verdict = "MEETS the target" if all(v is True for v in t.values()) else "misses"
            print(f"  seed {seed} {row['method']:<16} {verdict}: " + "; ".join(f"{k} {word[v]}" for k, v in t.items()))


class Tee:
    """Print to the terminal and to the output file."""

    def __init__(self, path):
        self.file, self.stdout = open(path, "w"), sys.stdout

    def write(self, text):
        self.stdout.write(text)
        self.file.write(text)

    def flush(self):
        self.stdout.flush()
        self.file.flush()

    def isatty(self):  # libraries ask before drawing progress bars
        return False


def main() -> None:
    if "--indist" in sys.argv[1:]:
        from indistinguishability import main as indistinguishability  # issue 27's table, with its own options
        return indistinguishability([a for a in sys.argv[1:] if a != "--indist"])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["sample", "ma"], default="sample")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--methods", default="steu,steu_rows_only,head_only,retrain_oracle")
    ap.add_argument("--settings", default="{}", help="JSON of per-method settings, as for compare --settings")
    ap.add_argument("--max-train", type=int, default=None, help="stratified subsample of the training notes")
    ap.add_argument("--max-eval", type=int, default=None, help="stratified subsample of the evaluation notes")
    ap.add_argument("--draws", type=int, default=5, help="draws per relearning attack (at least 5)")
    ap.add_argument("--full-max-steps", type=int, default=20)
    ap.add_argument("--eval-max", type=int, default=300, help="evaluation notes the full attacker checks")
    ap.add_argument("--probe-max", type=int, default=600, help="evaluation notes the layer-wise probe uses")
    ap.add_argument("--reuse", action="store_true", help="reuse a finished bench/out/robust-<data>-s<seed>/")
    args = ap.parse_args()
    args.methods = [m for m in args.methods.split(",") if m]
    OUT.mkdir(parents=True, exist_ok=True)
    sys.stdout = Tee(OUT / f"robustness-{args.data}.txt")
    files = request_files(args)
    print(f"Robustness, data {args.data}, forget class {files['forget_class']}, methods {', '.join(args.methods)}, "
          f"seeds 0..{args.seeds - 1}, settings {args.settings}", flush=True)
    t0 = time.perf_counter()
    comparisons = {}
    for seed in range(args.seeds):
        comparisons[seed] = run_seed(args, files, seed)
        print_seed(comparisons[seed], seed)
    print_targets(comparisons)
    print(f"\n{time.perf_counter() - t0:.0f} s in all; written to {OUT / f'robustness-{args.data}.txt'}")


if __name__ == "__main__":
    main()
