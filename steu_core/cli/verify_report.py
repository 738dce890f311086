"""``verify-report``: check a report PDF offline (its hash, ledger proofs, checkpoint and PDF signatures).

Exit 0: every check passed (each is listed). Exit 1: a check failed (named). Exit 2: the input is
unusable (a missing file, not a PDF, an unreadable proof file or key).
"""
from __future__ import annotations

from ..report.verify import verify_report

EXIT_FAILED = 1


def cmd_verify_report(args) -> int:
    res = verify_report(args.report, public_key=args.public_key, ledger_path=args.ledger, proof=args.proof,
                        trust_cert=args.trust_cert)
    print(f"Report {res.pdf}\nSHA-256 {res.sha256}")
    for name, ok, detail in res.checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    for note in res.notes:
        print(f"  note: {note}")
    if res.ok:
        print("Verified: every check passed.")
        return 0
    failed = [name for name, ok, _ in res.checks if not ok]
    print(f"NOT verified: {', '.join(failed)} failed.")
    return EXIT_FAILED


def register(sub) -> None:
    p = sub.add_parser("verify-report", help="check a report PDF offline: hash, ledger proofs, signatures")
    p.add_argument("report", help="the report PDF")
    p.add_argument("--public-key", help="the ledger's public key file (from `ledger key`); default: this machine's")
    p.add_argument("--ledger", help="also check a copy of the ledger (ledger.sqlite) holds the report")
    p.add_argument("--proof", help="the report's proof file (default: <report>.proof.json next to it)")
    p.add_argument("--trust-cert", help="PEM certificate to trust for the PDF signature (default: this machine's "
                                        "self-signed report certificate, if any)")
    p.set_defaults(func=cmd_verify_report)
