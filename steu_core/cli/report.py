"""``report``: the signed PDF (and JSON) audit report of a finished run with the packet for the regulator (one zip:
the PDF, its proof file and the ledger's public key), and the run's interactive HTML export."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..model import file_sha256
from ..outputs import check_output_file
from ..outputs import write_output
from ..report import build_report, sidecar_path
from ..report.html import build_html
from ..report.packet import INSTALL_LINE, packet_for, packet_path
from ..report.versions import next_free


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
    if args.packet and not args.out:
        raise ConfigError("--packet holds the PDF report, so it needs --out (the PDF) too.",
                          hint="For example: report --run RUN --out report.pdf --packet report.zip")
    for path, flag in ((args.json, "--json"), (args.html, "--html"), (_packet(args), "--packet")):
        if path:
            check_output_file(path, flag, overwrite=args.overwrite)


def _packet(args, pdf: Path | None = None) -> Path | None:
    """Where the packet goes: --packet, else beside the PDF ``pdf`` as <its name>.zip; before the PDF is
    written, beside the one --out will give (its next free version with --new-version)."""
    if not args.out:
        return None
    if args.packet:
        return Path(args.packet).expanduser()
    if pdf is None:
        out = Path(args.out).expanduser()
        pdf = next_free(out) if args.new_version else out
    return packet_path(pdf)


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
    print(f"Its proof file (the ledger's record of that SHA-256, signed): {sidecar_path(out)}")
    packet = packet_for(out)
    target = write_output(_packet(args, out), packet.data, "--packet", overwrite=args.overwrite)
    print(f"For the regulator, send this one file: {target} (the PDF, its proof file and the ledger's public key; "
          f"SHA-256 {packet.sha256})")
    print(f"They check it with: {INSTALL_LINE} && python -m steu_core verify-report {target.name} "
          "--public-key steu-ledger.pub (the key `python -m steu_core ledger key` prints, best sent apart from it)")


def register(sub) -> None:
    p = sub.add_parser("report", help="write the signed PDF (and JSON) audit report of a finished run")
    p.add_argument("--run", required=True, help="the finished run directory (holds results.json)")
    p.add_argument("--out", help="PDF file to write (an existing file is refused, see below)")
    p.add_argument("--html", help="also (or only) write the presentation as one self-contained interactive HTML file")
    p.add_argument("--json", help="also write the report's content as JSON here")
    p.add_argument("--packet", help="the zip for the regulator: the PDF, its proof file and the ledger's public key "
                                    "(default: beside the PDF, named like it with .zip)")
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
