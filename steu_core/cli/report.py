"""``report``: the signed PDF (and JSON) audit report of a finished run, and its interactive HTML export."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..model import file_sha256
from ..outputs import check_output_file
from ..report import build_report, sidecar_path
from ..report.html import build_html


def cmd_report(args) -> int:
    if not args.out and not args.html:
        raise ConfigError("report needs --out (the PDF), --html (the interactive export) or both.",
                          hint="For example: report --run RUN --out report.pdf --html report.html")
    if args.json and not args.out:
        raise ConfigError("--json writes the PDF report's content, so it needs --out (the PDF) too.",
                          hint="For example: report --run RUN --out report.pdf --json report.json")
    check_outputs(args)  # every output before any is built, signed or recorded
    if args.out:
        _write_pdf(args)
    if args.html:
        replaced = _existing_sha(args.html)
        out = build_html(args.run, args.html, overwrite=args.overwrite)
        print(f"Wrote {out} (interactive, self-contained: opens offline in a browser)")
        if replaced:
            print(f"It replaced a file (--overwrite) whose SHA-256 was {replaced}")
        print(f"Its SHA-256: {file_sha256(out)}")
    return 0


def check_outputs(args) -> None:
    """Each output path: new, or an existing regular file with --overwrite (--new-version versions the PDF)."""
    if args.out:  # an existing PDF: refused, versioned or replaced by build_report, as asked
        check_output_file(args.out, "--out", overwrite=True)
    for path, flag in ((args.json, "--json"), (args.html, "--html")):
        if path:
            check_output_file(path, flag, overwrite=args.overwrite)


def _existing_sha(path) -> str | None:
    """The SHA-256 of the file an --overwrite replaces, to say so (None when there is none)."""
    p = Path(path).expanduser()
    return file_sha256(p) if p.is_file() else None


def _write_pdf(args) -> None:
    # An explicit --out that exists is refused: a report already handed out must stay checkable.
    if_exists = "overwrite" if args.overwrite else "version" if args.new_version else "refuse"
    replaced_json = _existing_sha(args.json) if args.json else None
    out = build_report(args.run, args.out, organisation=args.organisation, json_out=args.json, if_exists=if_exists,
                       reveal_tokens=args.reveal_tokens)
    print(f"Wrote {out}" + (f" and {args.json}" if args.json else ""))
    if replaced_json:
        print(f"{args.json} replaced a file (--overwrite) whose SHA-256 was {replaced_json}")
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
                      help="replace an existing --out (the replaced file's SHA-256 is recorded in the ledger), "
                           "--json or --html (the replaced file's SHA-256 is printed)")
    p.set_defaults(func=cmd_report)
