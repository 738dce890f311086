"""The verdicts of STEU runs on real data, each with the per-class table and the cost of seeds.

    python bench/verdicts.py [--seeds 3] [--only sample|ma2|ma3]

Cases: the sample data (demo model, forget substance_use_disorder), Medical Abstracts class 2
(digestive system diseases) and class 3 (nervous system diseases) on the fine-tuned MiniLM of
bench/common.py. Each case runs STEU with one seed and with ``--seeds`` seeds in the same process and
prints the verdicts with their reasons, every class's F1 before -> after with the interval of the
change, where the forgotten notes went, and the time the extra seeds cost against the one-seed run.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time

from common import MAX_LENGTH, OUT, ROOT, original_model, split

from steu_core.demo import DEMO_FORGET, DEMO_TEST, DEMO_TRAIN, resolve_model_path
from steu_core.runs import UnlearnRequest, run_unlearning

SAMPLE_CLASS = "substance_use_disorder"


def cases(only: str | None) -> list[tuple[str, dict]]:
    out = []
    if only in (None, "sample"):
        out.append(("sample", {"model": str(resolve_model_path("default")), "train": DEMO_TRAIN, "eval": DEMO_TEST,
                               "forget": DEMO_FORGET, "forget_class": SAMPLE_CLASS}))
    if only in (None, "ma2", "ma3"):
        paths = split()
        model, _ = original_model(paths)
        for cls, name in (("2", "ma2"), ("3", "ma3")):
            if only in (None, name):
                out.append((name, {"model": str(model), "train": paths["train"], "eval": paths["eval"],
                                   "forget_class": cls}))
    return out


def run(name: str, spec: dict, seeds: int) -> tuple[dict, float]:
    out = OUT / f"verdicts-{name}-s{seeds}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    run_unlearning(UnlearnRequest(**spec, out=out, max_length=MAX_LENGTH, seeds=seeds, record_ledger=False))
    return json.loads((out / "results.json").read_text()), time.perf_counter() - t0


def show(name: str, r: dict, seconds: float) -> None:
    print(f"\n== {name}: forget '{r['forget_class']}', {r['seeds']['n']} seed(s), {seconds:.1f} s in all "
          f"(select {r['wall_seconds']['select']:.1f}, unlearn {r['wall_seconds']['unlearn']:.1f}, "
          f"extra seeds {r['wall_seconds'].get('seeds', 0):.1f})")
    for key in ("overall", "forgotten", "utility_kept", "membership"):
        v = r["verdicts"][key]
        print(f"  {key:<13} {v['verdict']:<12} {v['reason']}")
    print(f"  {'class':<34} {'F1 before':>9} {'F1 after':>9} {'change':>8}  change 95 % interval")
    for row in r["collateral"]["per_class"]:
        lo, hi = row["change_ci"]
        mark = " (forgotten)" if row["forgotten"] else (" LOST" if hi < 0 else "")
        print(f"  {row['label'][:34]:<34} {row['f1_before']:9.3f} {row['f1_after']:9.3f} {row['change']:+8.3f}  "
              f"[{lo:+.3f}, {hi:+.3f}]{mark}")
    went = r["collateral"]["forgotten_notes"]
    print(f"  the {went['n']} evaluation notes of the class went to: " +
          ", ".join(f"{lab} {v['count']}" for lab, v in went["after"].items() if v["count"]))
    for key, v in (r["seeds"].get("spread") or {}).items():
        print(f"  across seeds: {key} {v['min']:.4f} .. {v['max']:.4f} (sd {v['sd']:.4f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--only", choices=["sample", "ma2", "ma3"])
    ap.add_argument("--skip-one-seed", action="store_true",
                    help="run only the --seeds run (its first seed is the one-seed result; the extra seeds' "
                         "time is printed against the first seed's unlearning time)")
    args = ap.parse_args()
    print(f"repository {ROOT}")
    for name, spec in cases(args.only):
        many, t_many = run(name, spec, args.seeds)
        if args.skip_one_seed:
            show(name, many, t_many)
            ws = many["wall_seconds"]
            print(f"  the extra {args.seeds - 1} seeds took {ws['seeds']:.1f} s against {ws['select'] + ws['unlearn']:.1f} s "
                  f"of selection and unlearning for the first seed and {ws['total']:.1f} s for the whole run")
            continue
        one, t_one = run(name, spec, 1)
        show(name, one, t_one)
        show(name, many, t_many)
        print(f"  --seeds {args.seeds} took {t_many:.1f} s against {t_one:.1f} s for one seed "
              f"(ratio {t_many / t_one:.2f}; the extra seeds alone {many['wall_seconds']['seeds']:.1f} s)")


if __name__ == "__main__":
    main()
