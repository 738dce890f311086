"""``report``: the PDF (and JSON) audit report of a finished run."""
from __future__ import annotations

from ..model import file_sha256
from ..report import build_report


def cmd_report(args) -> int:
    out = build_report(args.run, args.out, organisation=args.organisation, json_out=args.json)
    print(f"Wrote {out}" + (f" and {args.json}" if args.json else ""))
    print(f"Its SHA-256 is recorded in the ledger (kind 'report'): {file_sha256(out)}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="write the PDF (and JSON) audit report of a finished run")
    p.add_argument("--run", required=True, help="the finished run directory (holds results.json)")
    p.add_argument("--out", required=True, help="PDF file to write")
    p.add_argument("--json", help="also write the report's content as JSON here")
    p.add_argument("--organisation", help="organisation name on the title page (default: $STEU_ORG)")
    p.set_defaults(func=cmd_report)
