"""``runs``: list finished runs in the data directory."""
from __future__ import annotations

from ..format import printable
from ..result_keys import FORGET_F1_AFTER, FORGET_F1_BEFORE, RETAIN_F1_AFTER, RETAIN_F1_BEFORE
from ..runs import list_runs


def cmd_runs(args) -> int:
    rows = list_runs()
    if not rows:
        print("No finished runs in the data directory yet.")
    for r in rows:
        print(printable(f"{r['run_id']}  {r['created_utc']}  {r['method']}  forget '{r['forget_class']}'  "
                        f"forget F1 {r[FORGET_F1_BEFORE]:.3f}->{r[FORGET_F1_AFTER]:.3f}  "
                        f"retain F1 {r[RETAIN_F1_BEFORE]:.3f}->{r[RETAIN_F1_AFTER]:.3f}"))
    return 0


def register(sub) -> None:
    r = sub.add_parser("runs", help="list finished runs in the data directory")
    r.set_defaults(func=cmd_runs)
