"""Quick screen of sparse unlearning candidates against the full-model relearning attacker.

    python bench/sparse_candidates.py [--data sample|ma] [--seed 0] [--draws 5] [--max-train N] [--eval-max 150]
        [--candidates '[["steu", {}], ["steu_rows_only", {"lr_rows": 0.02}]]']

One process, one tokenisation, no run records: for each candidate (a registered method and its settings)
it runs the method, scores forget F1 (evaluation notes of the class) and retain macro-F1 (the others),
counts the changed parameters, and runs the ``relearn_full`` attacker (lr 5e-5, n = 8, 20 steps) with the
same draws for every candidate. It is the screen that chose the candidates for bench/robustness.py, which
then measures the survivors with every audit, over seeds, against the retrain oracle.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from common import FORGET_CLASS, MAX_LENGTH, split
from sklearn.metrics import f1_score

from steu_core.audits.deep_base import DeepInputs, ModelOutputs, relearn_draws, steps_summary
from steu_core.audits.relearn_full import FullRelearnSettings, relearn_steps
from steu_core.data import load_notes, stratified_split
from steu_core.demo import DEMO_FORGET_CLASS, DEMO_TEST, DEMO_TRAIN, resolve_model_path
from steu_core.methods import UnlearnContext, get_method
from steu_core.methods.sampling import stratified_sample
from steu_core.model import compute_logits, encode, load_classifier

DEFAULT = '[["steu", {}], ["steu_rows_only", {}]]'


def load(args):
    if args.data == "sample":
        model, train, evaluation, cls = resolve_model_path("default"), DEMO_TRAIN, DEMO_TEST, DEMO_FORGET_CLASS
    else:
        from common import original_model
        paths = split()
        model, cls = original_model(paths)[0], FORGET_CLASS
        train, evaluation = paths["train"], paths["eval"]
    train, evaluation = load_notes(train), load_notes(evaluation)
    if args.max_train and len(train) > args.max_train:
        train, _ = stratified_split(train, test_fraction=1 - args.max_train / len(train), seed=0)
    return load_classifier(model, device="cpu"), train, evaluation, cls


def scores(clf, enc, labels, fc) -> tuple[float, float]:
    pred = compute_logits(clf, enc).argmax(-1).numpy()
    forget = f1_score(labels == fc, pred == fc, zero_division=0)
    keep = labels != fc
    others = sorted(set(labels[keep].tolist()))
    return float(forget), float(f1_score(labels[keep], pred[keep], labels=others, average="macro", zero_division=0))


def changed(original, new) -> int:
    a, b = original.model.state_dict(), new.model.state_dict()
    return int(sum((a[k] != b[k]).sum() for k in a if a[k].is_floating_point()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["sample", "ma"], default="sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--max-train", type=int, default=None)
    ap.add_argument("--eval-max", type=int, default=150)
    ap.add_argument("--candidates", default=DEFAULT)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    clf, train, evaluation, cls = load(args)
    fc = clf.label_id(cls)
    forget, retain = train.where_label(cls), train.where_label(cls, equal=False)
    f_enc, r_enc = encode(clf.tokenizer, forget.texts, MAX_LENGTH), encode(clf.tokenizer, retain.texts, MAX_LENGTH)
    r_labels = torch.as_tensor([clf.labels.index(y) for y in retain.labels])
    e_labels = np.array([clf.labels.index(y) for y in evaluation.labels])
    e_enc = encode(clf.tokenizer, evaluation.texts, MAX_LENGTH)
    inp = DeepInputs(labels=clf.labels, forget_class_id=fc, forget=f_enc, eval=e_enc, eval_labels=e_labels,
                     retain=r_enc, retain_labels=r_labels.numpy(), models={}, seed=args.seed)
    cfg = FullRelearnSettings(draws=args.draws, eval_max=args.eval_max)
    eval_idx = stratified_sample(torch.as_tensor(e_labels), cfg.eval_max, args.seed)
    eval_y = torch.as_tensor(e_labels[eval_idx], dtype=torch.long)
    draws = relearn_draws(inp, cfg.n, cfg.draws, salt=7)
    total = sum(p.numel() for p in clf.model.parameters())
    print(f"{args.data}: {len(forget)} forget, {len(retain)} retain, {len(evaluation)} eval notes; seed {args.seed}; "
          f"full attacker lr {cfg.lr} n {cfg.n} max {cfg.max_steps} on {len(eval_idx)} notes, {cfg.draws} draws", flush=True)
    f1f, f1r = scores(clf, e_enc, e_labels, fc)
    print(f"original: forget F1 {f1f:.3f} retain F1 {f1r:.4f}", flush=True)
    for name, settings in json.loads(args.candidates):
        ctx = UnlearnContext(original=clf, forget=f_enc, retain=r_enc, retain_labels=r_labels, forget_class_id=fc,
                             seed=args.seed, retain_notes=retain, max_length=MAX_LENGTH)
        t0 = time.perf_counter()
        result = get_method(name)(settings).run(ctx)
        took = time.perf_counter() - t0
        print(f"  {name}: {took:.1f} s, {result.training.get('steps')} steps", flush=True)
        f1f, f1r = scores(result.model, e_enc, e_labels, fc)
        n = changed(clf, result.model)
        t1 = time.perf_counter()
        m = ModelOutputs(name, result.model, None, None, None)
        steps = []
        for fi, ri in draws:
            steps.append(relearn_steps(m, fi.tolist(), ri.tolist(), inp, eval_idx, eval_y, cfg))
            print(f"  draw {len(steps)}: {steps[-1]} ({time.perf_counter() - t1:.0f} s)", flush=True)
        s = steps_summary(steps, cfg.max_steps)
        log = result.training
        print(f"{name} {json.dumps(settings)}: {took:.1f} s ({log.get('steps')} steps), forget F1 {f1f:.3f}, "
              f"retain F1 {f1r:.4f}, {100 * n / total:.3f} % params; full relearn {s['text']} {s['ci_text']} "
              f"{s['steps']} ({time.perf_counter() - t1:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
