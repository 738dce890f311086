"""Scoring with CPU lanes (steu_core/lanes.py) against one batch at a time, in one process.

    python bench/lanes.py [--notes 256] [--rounds 4] [--batch 64] [--lane-batch 16]

The demo model (fine-tuned once if it is not there yet) computes the head inputs of the first
``--notes`` training notes of data_samples/ (compute_features: the encoder passes behind the
original's scores and the audits; STEU's forget-set check runs the same passes through map_rows).
One at a time: batches of ``--batch`` notes on all of torch's threads, as without lanes; lanes:
batches of ``--lane-batch`` notes, one per thread. Each round times both back to back, alternating
which goes first. Prints the seconds of every round, the median ratio lanes / one at a time, and the
largest difference between the two results (different batch sizes: bit-identical on the machine
where this was written, rounding elsewhere).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from steu_core import lanes  # noqa: E402
from steu_core.data import load_notes  # noqa: E402
from steu_core.demo import DEMO_TRAIN, resolve_model_path  # noqa: E402
from steu_core.model import compute_features, encode, load_classifier  # noqa: E402


def one_way(use_lanes: bool, fn):
    """(seconds, result) of ``fn(use_lanes)`` with lanes on or off."""
    before = os.environ.get(lanes.ENV)
    os.environ[lanes.ENV] = "" if use_lanes else "1"
    try:
        t0 = time.perf_counter()
        out = fn(use_lanes)
        return time.perf_counter() - t0, out
    finally:
        if before is None:
            os.environ.pop(lanes.ENV, None)
        else:
            os.environ[lanes.ENV] = before


def compare(name: str, fn, rounds: int) -> None:
    times, worst = {True: [], False: []}, 0.0
    for r in range(rounds):
        for use in ((True, False) if r % 2 == 0 else (False, True)):
            seconds, out = one_way(use, fn)
            times[use].append(seconds)
            if use:
                with_lanes = out
            else:
                without = out
        worst = max(worst, float((with_lanes - without).abs().max()))
    ratio = statistics.median(a / b for a, b in zip(times[True], times[False]))
    print(f"{name}: lanes {', '.join(f'{t:.2f}' for t in times[True])} s | one at a time "
          f"{', '.join(f'{t:.2f}' for t in times[False])} s | median ratio {ratio:.3f} | largest difference "
          f"{worst:.1e}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64, help="notes per batch one at a time")
    ap.add_argument("--lane-batch", type=int, default=16, help="notes per batch in a lane")
    args = ap.parse_args()
    lanes.LANE_BATCH = args.lane_batch  # the cap map_batches applies in lanes: the batch asked for here
    clf = load_classifier(resolve_model_path("default"), device="cpu")
    notes = load_notes(DEMO_TRAIN)
    enc = encode(clf.tokenizer, notes.texts[:args.notes], 128)
    print(f"torch intra-op threads {torch.get_num_threads()}, lanes {lanes.count('cpu')}, "
          f"{len(enc)} notes of up to 128 tokens; batches of {args.lane_batch} in lanes, {args.batch} one at a "
          "time", flush=True)
    compare("compute_features", lambda use: compute_features(clf, enc, args.lane_batch if use else args.batch),
            args.rounds)


if __name__ == "__main__":
    main()
