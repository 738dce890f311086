"""``ledger verify|show``: check or list the hash-chained log of requests and runs."""
from __future__ import annotations

import json

from ..ledger import Ledger, entry_summary


def short_hash(h: str | None, n: int = 12) -> str:
    return (h or "")[:n]


def cmd_verify(args) -> int:
    ledger = Ledger(args.path)
    res = ledger.verify()
    if getattr(args, "json", False):
        print(json.dumps({"path": str(ledger.path), **res.as_dict()}, indent=2))
        return 0 if res.ok else 1
    if res.ok:
        print(f"OK: {res.n_entries} entries, chain intact ({ledger.path})")
        return 0
    print(f"BROKEN at entry {res.first_broken_seq} of {res.n_entries}: {res.reason} ({ledger.path})")
    return 1


def cmd_show(args) -> int:
    ledger = Ledger(args.path)
    entries = ledger.entries()
    if args.last is not None:
        entries = entries[-args.last:] if args.last > 0 else []
    if args.json:
        print(json.dumps(entries, indent=2, ensure_ascii=False))
        return 0
    if not entries:
        print(f"The ledger is empty ({ledger.path}).")
        return 0
    for e in entries:
        print(f"{e['seq']:>5}  {e['ts_utc']}  {e['kind']:<8} {short_hash(e['entry_hash'])}  {entry_summary(e['payload'])}")
    return 0


def register(subparsers) -> None:
    """Add ``ledger verify`` and ``ledger show [--last N]`` to a ``python -m steu_core`` parser."""
    p = subparsers.add_parser("ledger", help="check or list the hash-chained log of requests and runs")
    sub = p.add_subparsers(dest="ledger_command", required=True)

    v = sub.add_parser("verify", help="check the hash chain; exit 1 and name the first broken entry if it fails")
    v.add_argument("--path", help="ledger file (default: the data directory's ledger.sqlite)")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.set_defaults(func=cmd_verify)

    s = sub.add_parser("show", help="list ledger entries, oldest first")
    s.add_argument("--last", type=int, metavar="N", help="only the newest N entries")
    s.add_argument("--path", help="ledger file (default: the data directory's ledger.sqlite)")
    s.add_argument("--json", action="store_true", help="print full entries as JSON")
    s.set_defaults(func=cmd_show)
