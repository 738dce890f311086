"""``verify-erasure``: prove that an erased model was trained without a request's forget notes."""
from __future__ import annotations

from pathlib import Path

from ..deletion import verify as v
from ..errors import ConfigError
from ..format import printable
from ..model import file_sha256, write_json_atomic

EXIT_VERIFY_FAILED = 1


def cmd_verify_erasure(args) -> int:
    if not (args.forget or args.request):
        raise ConfigError("nothing to check the model against.", hint="Give --forget FILE (the notes) or --request ID.")
    if args.retrain and not args.train:
        raise ConfigError("--retrain needs --train, the training file the erasure was trained from.")
    check = v.start_check(args.run)
    if args.forget:
        v.check_absent(check, v.forget_file_hashes(args.forget, args.text_column), Path(args.forget).name)
    if args.request:
        v.check_absent(check, v.request_hashes(args.request), f"request {args.request}")
    if args.retrain:
        v.check_retrain(check, args.train, args.text_column, args.label_column)
    for status, what, detail in check.lines:
        print(printable(f"{status.upper():12} {what}: {detail}"))
    if args.proofs:
        write_json_atomic(Path(args.proofs), check.as_dict())
    print("PASS: the erased model was trained without these notes." if check.ok else "FAIL: see the lines above.")
    if check.ok and args.record and args.request:
        entry = v.record_verified(args.request, check, args.operator,
                                  file_sha256(Path(args.proofs)) if args.proofs else None)
        print(f"Recorded request {args.request} verified (ledger entry {entry['entry_hash'][:16]}).")
    return 0 if check.ok else EXIT_VERIFY_FAILED


def register(sub) -> None:
    ve = sub.add_parser("verify-erasure", help="prove that an erased model never saw a request's forget notes")
    ve.add_argument("--run", required=True, help="the directory `erase` wrote (or its model folder)")
    ve.add_argument("--forget", help="file of the forget notes (CSV / JSONL / Parquet; text column detected)")
    ve.add_argument("--request", help="check the forget notes recorded for this request id")
    ve.add_argument("--text-column", help="column holding the note text")
    ve.add_argument("--label-column", help="label column of --train")
    ve.add_argument("--retrain", action="store_true", help="also train again from the manifest (CPU) and compare "
                                                           "the model bit for bit (as long as the erasure took)")
    ve.add_argument("--train", help="with --retrain: the training file the erasure was trained from")
    ve.add_argument("--proofs", help="write the checks and every absence proof to this JSON file")
    ve.add_argument("--record", action="store_true", help="with --request: record the request as verified")
    ve.add_argument("--operator", default="", help="who verifies (default: $USER)")
    ve.set_defaults(func=cmd_verify_erasure)
