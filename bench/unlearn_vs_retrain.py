"""STEU against the retrain-from-scratch oracle on Medical Abstracts (forget class 2, digestive
system diseases), in one process on this machine.

    python bench/unlearn_vs_retrain.py [--oracle-epochs 3] [--skip-no-cache]

Rows: the original model, STEU with the exact feature cache, STEU without it, and the oracle (the
same pretrained MiniLM fine-tuned on the retain set only, same epochs as the original). Columns:
forget F1, retain F1, loss-MIA AUC with its bootstrap 95 % interval, % of parameters changed,
wall seconds; then the ratio STEU time / oracle training time, with and without the cache.
STEU time = token selection + unlearning steps (the feature cache is built inside the latter).
"""
from __future__ import annotations

import argparse
import json
import shutil
import time

import numpy as np

from common import FORGET_CLASS, MAX_LENGTH, OUT, TRAIN_CONFIG, original_model, split

from steu_core.audits.mia import attack_figures, loss_scores
from steu_core.audits.utility import utility_metrics
from steu_core.data import load_notes
from steu_core.model import compute_logits, encode, load_classifier
from steu_core.runs import UnlearnRequest, run_unlearning
from steu_core.train import TrainConfig, train_classifier


def steu_run(model, paths, name, use_cache) -> dict:
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    run_unlearning(UnlearnRequest(model=str(model), train=paths["train"], eval=paths["eval"],
                                  forget_class=FORGET_CLASS, out=out, max_length=MAX_LENGTH, use_cache=use_cache,
                                  record_ledger=False, request_id=f"bench-{name}"))
    r = json.loads((out / "results.json").read_text())
    r["_process_seconds"] = time.perf_counter() - t0
    return r


def evaluate(model_dir, paths) -> dict:
    """The same utility and loss-MIA figures the runner computes, for a model it did not produce."""
    clf = load_classifier(model_dir)
    train, evaluation = load_notes(paths["train"]), load_notes(paths["eval"])
    fc = clf.label_id(FORGET_CLASS)
    forget = train.where_label(clf.labels[fc])
    y_eval = np.array([clf.labels.index(y) for y in evaluation.labels])
    le = compute_logits(clf, encode(clf.tokenizer, evaluation.texts, MAX_LENGTH))
    lf = compute_logits(clf, encode(clf.tokenizer, forget.texts, MAX_LENGTH))
    u = utility_metrics(y_eval, le.argmax(-1).numpy(), clf.labels, fc)
    non = le[y_eval == fc]
    m = attack_figures(loss_scores(lf, np.full(len(lf), fc)), loss_scores(non, np.full(len(non), fc)), seed=0)
    return {"forget_f1": u["forget_f1"], "retain_f1": u["retain_f1"], "loss_auc": m["auc"], "loss_auc_ci": m["auc_ci"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oracle-epochs", type=int, default=TRAIN_CONFIG.epochs)
    ap.add_argument("--skip-no-cache", action="store_true")
    args = ap.parse_args()
    paths = split()
    model, orig_train_s = original_model(paths)

    steu = steu_run(model, paths, "steu_cache", use_cache=True)
    nocache = None if args.skip_no_cache else steu_run(model, paths, "steu_nocache", use_cache=False)

    oracle_dir = OUT / "oracle"
    shutil.rmtree(oracle_dir, ignore_errors=True)
    retain = load_notes(paths["train"]).where_label(FORGET_CLASS, equal=False)
    print(f"Training the oracle on {len(retain)} retain notes ({args.oracle_epochs} epochs) ...", flush=True)
    t0 = time.perf_counter()
    cfg = TrainConfig(**{**TRAIN_CONFIG.__dict__, "epochs": args.oracle_epochs})
    labels = load_classifier(model, device="cpu").labels  # same label space as the original
    train_classifier("default", retain, oracle_dir, cfg, labels=labels)
    oracle_s = time.perf_counter() - t0
    oracle = evaluate(oracle_dir, paths)

    rows = [("original", steu["forget_f1_before"], steu["retain_f1_before"], steu["mia"]["loss_auc_before"],
             steu["mia"]["loss_auc_ci_before"], 0.0, orig_train_s)]
    for name, r in (("STEU (feature cache)", steu), ("STEU (no cache)", nocache)):
        if r is None:
            continue
        w = r["wall_seconds"]
        rows.append((name, r["forget_f1_after"], r["retain_f1_after"], r["mia"]["loss_auc_after"],
                     r["mia"]["loss_auc_ci_after"], 100 * r["params_changed_fraction"], w["select"] + w["unlearn"]))
    rows.append(("retrain oracle", oracle["forget_f1"], oracle["retain_f1"], oracle["loss_auc"], oracle["loss_auc_ci"],
                 100.0, oracle_s))

    print()
    print(f"Medical Abstracts, forget class {FORGET_CLASS}; train {steu['data']['train']['rows']} / eval "
          f"{steu['data']['eval_rows']} notes; forget {steu['data']['forget']['rows']}, retain {steu['data']['retain_rows']}; "
          f"max length {MAX_LENGTH}; device {steu['device']}; k = {steu['k']}")
    print(f"{'model':<22}{'forget F1':>10}{'retain F1':>11}{'loss-MIA AUC [95% CI]':>28}{'% params':>10}{'seconds':>10}")
    for name, ff, rf, auc, ci, pct, sec in rows:
        sec_s = f"{sec:10.1f}" if sec is not None else f"{'(cached)':>10}"
        print(f"{name:<22}{ff:>10.4f}{rf:>11.4f}{auc:>13.4f} [{ci[0]:.3f}, {ci[1]:.3f}]{pct:>10.3f}{sec_s}")
    print()
    for name, r in (("with the feature cache", steu), ("without the cache", nocache)):
        if r is None:
            continue
        w = r["wall_seconds"]
        t = w["select"] + w["unlearn"]
        print(f"STEU time {name}: {t:.1f} s (select {w['select']:.2f} + unlearn {w['unlearn']:.1f}; "
              f"{r['training']['steps']} steps) = 1/{oracle_s / t:.1f} of the oracle's {oracle_s:.0f} s; "
              f"audit {w['audit']:.1f} s, scoring the original {w['score_original']:.1f} s")
    print(f"Forget-set coverage: {100 * steu['coverage']['fraction']:.1f} % "
          f"({steu['coverage']['forget_examples_with_selected_token']}/{steu['coverage']['forget_examples']}); "
          f"parameters changed {steu['params_changed']:,} of {steu['params_total']:,}; "
          f"diff verdict {steu['param_diff_verdict']}")
    lo, hi = steu["mia"]["loss_auc_ci_after"]
    olo, ohi = oracle["loss_auc_ci"]
    print(f"Loss-MIA AUC intervals {'overlap' if lo <= ohi and olo <= hi else 'do NOT overlap'}: "
          f"STEU [{lo:.3f}, {hi:.3f}] vs oracle [{olo:.3f}, {ohi:.3f}]")


if __name__ == "__main__":
    main()
