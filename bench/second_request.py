"""The sample request twice on the demo model, in one process: the second reuses the original model's
scores (steu_core/runs/original_cache.py). Prints both requests' stage times side by side.

    python bench/second_request.py [--device cpu] [--keep DIR]

Request: the demo model (``--model default``, fine-tuned once into the data directory if it is not
there yet), data_samples/ (train.csv, test.csv, forget_substance_use.csv), forget class
substance_use_disorder, STEU with its defaults. The first request starts from an empty cache of
original scores, retain features and token ids (a temporary one: the data directory's own cache is
neither read nor changed), so it pays for scoring the original; the second finds the entries the
first wrote. "Caching encoder features" runs until the first optimisation step has been reported, so
it holds that step. Stage times are the
wall time from one stage of the run to the next (progress.json's stages, steu_core/runs/stages.py);
the in-process time leaves out the dashboard worker's process start and imports.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from steu_core.demo import DEMO_FORGET, DEMO_FORGET_CLASS, DEMO_TEST, DEMO_TRAIN, resolve_model_path  # noqa: E402
from steu_core.runs import UnlearnRequest, original_cache, run_unlearning  # noqa: E402
from steu_core.runs.stages import ORDER, stage_words  # noqa: E402


def timed_request(out: Path, device: str) -> tuple[dict, float, float]:
    """Run the sample request into ``out``; (seconds per stage, total seconds, the run's own
    score_original seconds)."""
    starts: list[tuple[str, float]] = []

    def progress(state: dict) -> None:
        stage = state.get("stage")
        if stage and (not starts or starts[-1][0] != stage):
            starts.append((stage, time.perf_counter()))

    t0 = time.perf_counter()
    run_unlearning(UnlearnRequest(model="default", train=DEMO_TRAIN, eval=DEMO_TEST, forget=DEMO_FORGET,
                                  forget_class=DEMO_FORGET_CLASS, out=out, device=device, record_ledger=False),
                   progress=progress)
    total = time.perf_counter() - t0
    ends = [t for _, t in starts[1:]] + [t0 + total]
    seconds: dict[str, float] = {}
    for (stage, start), end in zip(starts, ends):
        seconds[stage] = seconds.get(stage, 0.0) + end - start
    scoring = json.loads((out / "results.json").read_text())["wall_seconds"].get("score_original", 0.0)
    return seconds, total, scoring


def table(first: dict, second: dict, totals: tuple[float, float]) -> str:
    stages = sorted(set(first) | set(second), key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER))
    lines = [f"{'stage':<40}{'first (s)':>11}{'second (s)':>12}"]
    for s in stages:
        lines.append(f"{stage_words(s):<40}{first.get(s, 0.0):>11.1f}{second.get(s, 0.0):>12.1f}")
    lines.append(f"{'Run to results (in process)':<40}{totals[0]:>11.1f}{totals[1]:>12.1f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--keep", help="keep both run directories under this directory")
    args = ap.parse_args()
    resolve_model_path("default")  # the demo model exists before the clock starts
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="steu-second-request-"))
    cache = Path(tempfile.mkdtemp(prefix="steu-original-scores-"))
    # the first request must find no entry, without reading or changing the data directory's cache
    original_cache.cache_dir = lambda: cache
    try:
        first, t_first, s1 = timed_request(work / "first", args.device)
        entries = len(list(cache.glob("*.safetensors")))
        second, t_second, s2 = timed_request(work / "second", args.device)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(table(first, second, (t_first, t_second)))
    print(f"\nScoring the original (results.json wall_seconds.score_original): {s1:.1f} s -> {s2:.1f} s; "
          f"cache entries after the first request: {entries}")


if __name__ == "__main__":
    main()
