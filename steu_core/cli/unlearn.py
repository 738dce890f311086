"""``unlearn``: make a classifier forget one class, audit it, write a run directory."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .. import distributed
from ..format import percent, printable
from ..request import UnlearnRequest, default_operator
from ..result_keys import (FORGET_F1_AFTER, FORGET_F1_BEFORE, LOSS_AUC_AFTER, LOSS_AUC_BEFORE, LOSS_AUC_CI_AFTER,
                           MACRO_F1_AFTER, MACRO_F1_BEFORE, MIA, RETAIN_F1_AFTER, RETAIN_F1_BEFORE)
from ..runs import run_unlearning
from ..report.summary import beyond_limit_text, members_note, seeds_note
from ..verdicts import QUESTIONS, VERDICT_WORDS, headline, run_verdicts, verdict_items
from .progress import ProgressBar


def request_from_args(args) -> UnlearnRequest:
    """The request the options describe; --k / --budget are shorthands for those method settings."""
    req = UnlearnRequest.from_args(args)
    for name in ("k", "budget"):
        if getattr(args, name, None) is not None:
            req.settings[name] = getattr(args, name)
    req.operator = req.operator or default_operator()
    return req


def cmd_unlearn(args) -> int:
    req = request_from_args(args)

    def waiting(holder: dict) -> None:
        who = f" (process {holder['pid']})" if holder.get("pid") else ""
        print(f"Another run on this model is in progress{who}; waiting up to {req.lock_wait_s:.0f} s for it to finish ...",
              file=sys.stderr, flush=True)

    bar = ProgressBar(args.quiet or distributed.requested_world_size() > 1 and os.environ.get("RANK", "0") != "0")
    try:
        out = run_unlearning(req, progress=bar, on_wait=waiting)
    finally:
        bar.close()
        main_process = distributed.current().is_main
        distributed.teardown()  # several processes (torchrun / accelerate launch): leave the group
    if not main_process:  # process 0 prints the summary
        return 0
    r = json.loads((out / "results.json").read_text())
    print(summary_text(r, out))
    return 0


def summary_text(r: dict, out: Path) -> str:
    mia = r.get(MIA, {})
    lines = [
        f"Run {r['run_id']} finished: {out}",
        f"  method {r['method']}, forget class '{r['forget_class']}', k = {r['k']} rows, device {r['device']}",
        f"  forget F1  {r[FORGET_F1_BEFORE]:.4f} -> {r[FORGET_F1_AFTER]:.4f}",
        f"  retain F1  {r[RETAIN_F1_BEFORE]:.4f} -> {r[RETAIN_F1_AFTER]:.4f}",
        f"  macro F1   {r[MACRO_F1_BEFORE]:.4f} -> {r[MACRO_F1_AFTER]:.4f}",
    ]
    if LOSS_AUC_BEFORE in mia:
        lo, hi = mia[LOSS_AUC_CI_AFTER]
        lines.append(f"  MIA loss AUC {mia[LOSS_AUC_BEFORE]:.4f} -> {mia[LOSS_AUC_AFTER]:.4f} "
                     f"(95% CI {lo:.3f}-{hi:.3f}; 0.5 = attacker guessing)")
    lines += [
        f"  parameters changed {r['params_changed']:,} of {r['params_total']:,} "
        f"({percent(r['params_changed_fraction'])}), forget-set coverage {percent(r['coverage']['fraction'], 3)}",
        f"  parameter diff: {r['param_diff_verdict'].upper()} - {r['param_diff_message']}",
        f"  time: select {r['wall_seconds']['select']:.1f} s, unlearn {r['wall_seconds']['unlearn']:.1f} s, "
        f"audit {r['wall_seconds']['audit']:.1f} s",
    ]
    # each line printable: a class name or request field with a newline or ESC cannot forge output
    return "\n".join(printable(line) for line in lines + verdict_lines(r) + data_notes(r))


def verdict_lines(r: dict) -> list[str]:
    """The run's verdicts, in the words results.json records (steu_core.verdicts)."""
    v = run_verdicts(r)
    words = {key: VERDICT_WORDS[item["verdict"]] for key, item in verdict_items(v).items()} | {"overall": headline(v)}
    return [f"  {QUESTIONS[key]} {words[key]}: {item['reason']}" for key, item in verdict_items(v).items()]


def data_notes(r: dict) -> list[str]:
    """Truncated notes, the seeds and their spread, the members, and data warnings, one line each."""
    trunc = (r.get("data") or {}).get("truncated_notes") or {}
    n_trunc = {k: v for k, v in trunc.items() if k != "max_length" and v}
    lines = []
    if n_trunc:
        parts = ", ".join(f"{v} {k}" for k, v in n_trunc.items())
        lines.append(f"  note: {parts} note(s) were longer than {trunc.get('max_length')} tokens and were truncated "
                     f"(raise --max-length to use more of each note).{beyond_limit_text(r)}")
    lines += [f"  note: {n}" for n in (seeds_note(r), members_note(r)) if n] + spread_lines(r)
    return lines + [f"  warning: {w}" for w in r.get("warnings") or []]


def spread_lines(r: dict) -> list[str]:
    spread = (r.get("seeds") or {}).get("spread") or {}
    return [f"  across seeds: {key.replace('_', ' ')} {v['min']:.4f} to {v['max']:.4f} (mean {v['mean']:.4f}, "
            f"SD {v['sd']:.4f})" for key, v in spread.items()]


def register(sub) -> None:
    u = sub.add_parser("unlearn", help="make a classifier forget one class, audit it, write a run directory")
    UnlearnRequest.add_options(u)
    g = u.add_mutually_exclusive_group()
    g.add_argument("--k", type=int, help="number of embedding rows to edit")
    g.add_argument("--budget", type=float, help="fraction of all parameters that may change (default 0.0019)")
    u.add_argument("--quiet", action="store_true", help="no progress bar")
    u.set_defaults(func=cmd_unlearn)
