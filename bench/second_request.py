"""The sample request twice on the demo model, in one process: the second reuses the original model's
scores (steu_core/runs/original_cache.py). Prints both requests' stage times side by side.

    python bench/second_request.py [--device cpu] [--keep DIR]
    python bench/second_request.py --worker [--repeats 2]

Request: the demo model (``--model default``, fine-tuned once into the data directory if it is not
there yet), data_samples/ (train.csv, test.csv, forget_substance_use.csv), forget class
substance_use_disorder, STEU with its defaults. The first request starts from an empty cache of
original scores, retain features and token ids (a temporary one: the data directory's own cache is
neither read nor changed), so it pays for scoring the original; the second finds the entries the
first wrote. "Caching encoder features" runs until the first optimisation step has been reported, so
it holds that step. Stage times are the
wall time from one stage of the run to the next (progress.json's stages, steu_core/runs/stages.py);
the in-process time leaves out the dashboard worker's process start and imports.

``--worker`` times what the dashboard shows instead: from ``worker.start_run`` to the status
"finished", in a temporary data directory that borrows the demo model. The first request fills the
caches; then the same request alternates between a new worker process and a child of the warm worker
(steu_core/worker/warm.py), ``--repeats`` times each.
"""
from __future__ import annotations

import argparse
import json
import os
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
from steu_core.paths import steu_home  # noqa: E402


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


def worker_request(device: str, warm: bool) -> tuple[float, float, str]:
    """One request through the dashboard's worker: (Run to results, the run's own total, who started it)."""
    from steu_core import worker

    os.environ["STEU_WARM_WORKER"] = "1" if warm else "0"
    t0 = time.perf_counter()
    started = worker.start_run(UnlearnRequest(model="default", train=DEMO_TRAIN, eval=DEMO_TEST, forget=DEMO_FORGET,
                                              forget_class=DEMO_FORGET_CLASS, out="", device=device))
    while worker.status(started.run_id).active:
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    end = worker.status(started.run_id)
    if end.state != "finished":
        sys.exit(f"the request {end.state}: {end.message}")
    total = json.loads((Path(end.run_dir) / "results.json").read_text())["wall_seconds"]["total"]
    return seconds, total, worker.read_launch(started.run_id)["started_by"]


def wait_for_warm_worker() -> None:
    from steu_core import worker

    os.environ["STEU_WARM_WORKER"] = "1"
    deadline = time.monotonic() + 300
    while not worker.warm_up():
        if time.monotonic() > deadline:
            sys.exit("the warm worker did not start; see logs/warm-worker.log in the data directory")
        time.sleep(0.5)


def worker_main(device: str, repeats: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="steu-worker-home-"))
    (home / "models").symlink_to(steu_home() / "models")  # the demo model, not fine-tuned again
    os.environ["STEU_HOME"] = str(home)
    try:
        wait_for_warm_worker()
        rows = [("first request", *worker_request(device, warm=False))]
        for _ in range(repeats):
            for warm in (False, True):
                rows.append(("second request", *worker_request(device, warm)))
    finally:
        from steu_core.worker import warm

        os.environ["STEU_WARM_WORKER"] = "1"
        warm.stop()
        shutil.rmtree(home, ignore_errors=True)
    print(f"{'request':<16}{'started by':<14}{'Run to results (s)':>20}{'run itself (s)':>16}{'outside (s)':>13}")
    for label, seconds, total, started_by in rows:
        print(f"{label:<16}{started_by:<14}{seconds:>20.1f}{total:>16.1f}{seconds - total:>13.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--keep", help="keep both run directories under this directory")
    ap.add_argument("--worker", action="store_true", help="through the dashboard's worker, new process vs warm")
    ap.add_argument("--repeats", type=int, default=2, help="with --worker: second requests per way")
    args = ap.parse_args()
    resolve_model_path("default")  # the demo model exists before the clock starts
    if args.worker:
        return worker_main(args.device, args.repeats)
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
