"""``compare``: several unlearning methods on one request, with the deep audits."""
from __future__ import annotations

import os
import sys

from ..compare import load_comparison_dir, relearn_verdict_lines, run_comparison, table_text, verdict_lines
from ..compare.estimate import chosen, estimate_lines, estimate_request, measured_lines
from ..format import label
from ..paths import comparisons_dir
from ..request import CompareRequest
from ..runs import new_run_id
from ..verdicts import QUESTIONS, RELEARN_QUESTION


def cmd_compare(args) -> int:
    out_dir = args.out or str(comparisons_dir() / new_run_id("cmp"))
    req = CompareRequest.from_args(args, out=out_dir)
    req.operator = req.operator or os.environ.get("USER", "")
    estimate = None
    if not args.quiet:
        req.validate()  # a bad request is refused before the step costs are measured
        print("Measuring this machine's step costs for the time estimate ...", file=sys.stderr, flush=True)
        estimate = estimate_request(req)
        print("\n".join(estimate_lines(estimate, req.full_relearning)), file=sys.stderr, flush=True)
    out = run_comparison(req, progress=None if args.quiet else progress_printer())
    comparison = load_comparison_dir(out)
    print(f"Comparison finished: {out}  (forget class '{label(comparison['forget_class'])}', "
          f"{len(comparison['methods'])} methods, {comparison['total_seconds']:.0f} s)")
    print(table_text(comparison))
    headlines = verdict_lines(comparison)
    if headlines:
        print(f"\n{QUESTIONS['overall']}")
        print("\n".join(f"  {line}" for line in headlines))
    verdicts = relearn_verdict_lines(comparison)
    if verdicts:
        print(f"\n{RELEARN_QUESTION}")
        print("\n".join(f"  {line}" for line in verdicts))
    print("\nDifferences outside the noise (95 % intervals do not overlap); everything else is within it:")
    for line in comparison["findings"]:
        print(f"  - {line}")
    if estimate is not None:
        print("\n" + "\n".join(measured_lines(comparison, chosen(estimate, req.full_relearning))))
    print(f"\nTable: {out / 'comparison.csv'}; everything: {out / 'comparison.json'}")
    return 0


def progress_printer():
    """A progress line whenever the stage, the method, its run's stage or a deep audit's activity changes
    (an audit's activity: e.g. "steu: draw 2 of 5, step 6 of 10")."""
    last = [None]

    def show(state: dict) -> None:
        key = (state.get("stage"), state.get("method"), (state.get("run") or {}).get("stage"), state.get("activity"))
        if key == last[0]:
            return
        last[0] = key
        m = f" {state['method']}" if state.get("method") else ""
        inner = (state.get("run") or {}).get("stage")
        activity = state.get("activity") if str(state.get("stage", "")).startswith("audit:") else ""
        print(f"[{state.get('elapsed_s', 0):7.1f} s] {state.get('stage')}{m}{': ' + inner if inner else ''}"
              f"{' · ' + activity if activity else ''}", file=sys.stderr, flush=True)

    return show


def register(sub) -> None:
    c = sub.add_parser("compare", help="run several unlearning methods on one request and compare them "
                                       "(with the deeper audits: KS vs oracle, RMIA, probe, relearning)")
    CompareRequest.add_options(c)
    c.add_argument("--quiet", action="store_true", help="no progress lines")
    c.set_defaults(func=cmd_compare)
