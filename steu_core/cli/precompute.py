"""``precompute``: the original model's scores of a request, computed and kept before the request is run."""
from __future__ import annotations

import os

from ..request import PrecomputeRequest
from ..runs.precompute import precompute_original, read_done
from .progress import ProgressBar


def cmd_precompute(args) -> int:
    req = PrecomputeRequest.from_args(args)
    req.operator = req.operator or os.environ.get("USER", "")
    bar = ProgressBar(args.quiet)
    try:
        out = precompute_original(req, progress=bar)
    finally:
        bar.close()
    seconds = (read_done(out) or {}).get("seconds") or {}
    print(f"The original model's scores are kept for this request ({seconds.get('total', 0.0):.1f} s): {out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("precompute", help="compute and keep the original model's scores of a request before it is "
                                          "run (what the dashboard does while a request is being prepared)")
    PrecomputeRequest.add_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_precompute)
