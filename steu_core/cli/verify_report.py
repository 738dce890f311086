"""``verify-report``: check a report offline, as a regulator does: the packet (.zip) or the PDF, with the proof
file and public key that came with it (its hash, ledger proofs, checkpoint and PDF signatures).

Exit 0: every check passed (each is listed, with what it means). Exit 1: a check failed (named, with what to
ask the sender for). Exit 2: the input is unusable (a missing file, not a PDF, a damaged packet, an
unreadable proof file or key). Imports no torch or transformers (requirements-verify.txt is enough).
"""
from __future__ import annotations

from ..report.verify import CHECK_WORDS, ReportCheck, verify_report

EXIT_FAILED = 1


def cmd_verify_report(args) -> int:
    res = verify_report(args.report, public_key=args.public_key, ledger_path=args.ledger, proof=args.proof,
                        trust_cert=args.trust_cert)
    print(report_text(res))
    return 0 if res.ok else EXIT_FAILED


def report_text(res: ReportCheck) -> str:
    """What was checked, in plain words: the files used, each check with its meaning, notes, the outcome and
    what to ask the sender for."""
    lines = [f"Checked the report {res.pdf}", f"  its SHA-256 (fingerprint): {res.sha256}"]
    lines += [f"  {what}: {where}" for what, where in res.sources[1:]]
    lines.append("What was checked:")
    for name, ok, detail in res.checks:
        meaning = CHECK_WORDS.get(name)
        lines.append(f"  {'PASS' if ok else 'FAIL'}  {name}" + (f" - {meaning}" if meaning else ""))
        lines.append(f"        {detail}")
    lines += [f"  note: {note}" for note in res.notes]
    if res.ok:
        lines.append("Verified: every check passed.")
    else:
        failed = [name for name, ok, _ in res.checks if not ok]
        lines.append(f"NOT verified: {', '.join(failed)} failed.")
    if res.asks:
        lines.append("To complete the check, ask the sender for:")
        lines += [f"  - {ask}" for ask in res.asks]
    return "\n".join(lines)


def register(sub) -> None:
    p = sub.add_parser("verify-report", help="check a report offline (the packet .zip or the PDF): its hash, ledger "
                                             "proofs and signatures")
    p.add_argument("report", help="the packet (.zip) or the report PDF you received; a PDF's proof file is found "
                                  "in its folder by the PDF's SHA-256, whatever the files are called")
    p.add_argument("--public-key", help="the ledger's public key file you were given (from `ledger key`); default: "
                                        "the steu-ledger.pub that came with the report, else this machine's")
    p.add_argument("--ledger", help="also check a copy of the ledger (ledger.sqlite) holds the report")
    p.add_argument("--proof", help="the report's proof file (default: the .proof.json beside the PDF, or in the "
                                   "packet, that records the PDF's SHA-256)")
    p.add_argument("--trust-cert", help="PEM certificate to trust for the PDF signature (default: this machine's "
                                        "self-signed report certificate, if any)")
    p.set_defaults(func=cmd_verify_report)
