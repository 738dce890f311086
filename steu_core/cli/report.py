"""``report``: the signed PDF (and JSON) audit report of a finished run."""
from __future__ import annotations

from ..errors import ConfigError
from ..model import file_sha256
from ..paths import check_writable_location
from ..report import build_report, sidecar_path
from ..report.html import build_html


def cmd_report(args) -> int:
    if not args.out and not args.html:
        raise ConfigError("report needs --out (the PDF), --html (the interactive export) or both.",
                          hint="For example: report --run RUN --out report.pdf --html report.html")
    if args.out:
        _write_pdf(args)
    if args.html:
        out = build_html(args.run, args.html)
        print(f"Wrote {out} (interactive, self-contained: opens offline in a browser)")
        print(f"Its SHA-256: {file_sha256(out)}")
    return 0


def _write_pdf(args) -> None:
    # An explicit --out that exists is refused: a report already handed out must stay checkable.
    if_exists = "overwrite" if args.overwrite else "version" if args.new_version else "refuse"
    for path, flag in ((args.out, "--out"), (args.json, "--json")):
        if path:
            check_writable_location(path, flag)  # before the report is built, signed or recorded
    out = build_report(args.run, args.out, organisation=args.organisation, json_out=args.json, if_exists=if_exists,
                       reveal_tokens=args.reveal_tokens)
    print(f"Wrote {out}" + (f" and {args.json}" if args.json else ""))
    print(f"Its SHA-256 is recorded in the ledger (kind 'report'): {file_sha256(out)}")
    print(f"Its inclusion proof and checkpoint: {sidecar_path(out)} (deliver it with the PDF)")


def register(sub) -> None:
    p = sub.add_parser("report", help="write the signed PDF (and JSON) audit report of a finished run")
    p.add_argument("--run", required=True, help="the finished run directory (holds results.json)")
    p.add_argument("--out", help="PDF file to write (an existing file is refused, see below)")
    p.add_argument("--html", help="also (or only) write the presentation as one self-contained interactive HTML file")
    p.add_argument("--json", help="also write the report's content as JSON here")
    p.add_argument("--organisation", help="organisation name on the title page (default: $STEU_ORG)")
    p.add_argument("--reveal-tokens", action="store_true",
                   help="print identifier-like selected tokens in clear (read from the run's own tokenizer; they are "
                        "masked otherwise): a report for use on this machine only")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--new-version", action="store_true",
                      help="if --out exists, write the next free version (report-v2.pdf ...)")
    when.add_argument("--overwrite", action="store_true",
                      help="replace an existing --out (the replaced file's SHA-256 is recorded in the ledger)")
    p.set_defaults(func=cmd_report)
