"""``runs``: list finished runs: the data directory's and every other run its ledger records."""
from __future__ import annotations

from ..format import number, printable
from ..result_keys import FORGET_F1_AFTER, FORGET_F1_BEFORE, RETAIN_F1_AFTER, RETAIN_F1_BEFORE
from ..runs import list_runs, location


def cmd_runs(args) -> int:
    rows = list_runs()
    if not rows:
        print("No finished runs in the data directory or its ledger yet.")
    for r in rows:
        if r["missing"]:
            print(printable(f"{r['run_id']}  {r['created_utc']}  {r['method']}  forget '{r['forget_class']}'  "
                            f"{location(r)}"))
            continue
        print(printable(f"{r['run_id']}  {r['created_utc']}  {r['method']}  forget '{r['forget_class']}'  "
                        f"forget F1 {number(r[FORGET_F1_BEFORE], 3)}->{number(r[FORGET_F1_AFTER], 3)}  "
                        f"retain F1 {number(r[RETAIN_F1_BEFORE], 3)}->{number(r[RETAIN_F1_AFTER], 3)}  "
                        f"{location(r)}"))
    return 0


def register(sub) -> None:
    r = sub.add_parser("runs", help="list finished runs: the data directory's, and those its ledger records elsewhere")
    r.set_defaults(func=cmd_runs)
