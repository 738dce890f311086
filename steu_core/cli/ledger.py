"""``ledger verify|show|checkpoint|key``: check, list, anchor and sign the log of requests and runs.

``verify`` checks the hash chain, that no entry its head record covers is gone (:mod:`..ledger.head`) and, given ``--checkpoint``, that today's ledger extends a signed
checkpoint held outside the database (exit 1 naming what differs). ``checkpoint`` signs the current
state; ``key`` prints the public key a regulator needs. Unusable input (a path that is not a ledger,
a malformed key or checkpoint) raises :class:`LedgerError`: one message, exit status 2.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from ..errors import check_whole_number
from ..format import printable
from ..ledger import Ledger, LedgerError, check_ledger_file, entry_summary, load_verifier
from ..ledger.checkpoint import CheckpointResult
from ..ledger.files import existing_file
from ..ledger.head import check_head, retire_head
from ..ledger.signed_state import remember_checkpoint, sign_checkpoint
from ..ledger.keys import default_key_path, local_verifier, rotate_signer, signer_for
from ..outputs import write_output

MAX_CHECKPOINT_BYTES = 64 * 1024  # a checkpoint is a few hundred bytes, even with many cosignatures


def short_hash(h: str | None, n: int = 12) -> str:
    return (h or "")[:n]


# -- verify ---------------------------------------------------------------------------------------
def cmd_verify(args) -> int:
    ledger = Ledger(args.path)
    check_ledger_file(ledger.path, allow_empty=args.allow_empty)
    res = ledger.verify()
    head = check_head(ledger, res.n_entries)
    missing = ledger.missing_triggers() if res.n_entries else []
    cp = _checkpoint_result(ledger, args.checkpoint, args.public_key) if args.checkpoint else None
    status = 0 if res.ok and head.ok and not missing and (cp is None or cp.ok) else 1
    if args.json:
        extra = {"checkpoint": {"file": args.checkpoint, **cp.as_dict()}} if cp else {}
        print(json.dumps({"path": str(ledger.path), **res.as_dict(), "head": head.as_dict(),
                          "missing_triggers": missing, **extra}, indent=2))
        return status
    if res.ok:
        print(f"OK: {res.n_entries} entries, chain intact ({ledger.path})")
    else:
        print(f"BROKEN at entry {res.first_broken_seq} of {res.n_entries}: {res.reason} ({ledger.path})")
    print(f"{'OK' if head.ok else 'FAILED'} against the head record: {head.reason}")
    if missing:
        print(f"FAILED: the append-only trigger(s) {', '.join(missing)} were dropped: entries could have been changed "
              "or deleted without the database refusing (the chain and head checks above say whether any was)")
    if cp is not None:
        head = "OK" if cp.ok else "FAILED"
        print(f"{head} against the checkpoint '{args.checkpoint}': {cp.reason}")
    return status


def _checkpoint_result(ledger: Ledger, checkpoint_file: str, public_key_file: str | None) -> CheckpointResult:
    text = read_checkpoint_file(checkpoint_file)
    key = load_verifier(public_key_file) if public_key_file else local_verifier()
    try:
        return ledger.verify_checkpoint(text, key)
    except LedgerError as exc:  # with the key settled, only the checkpoint's text can be at fault
        raise LedgerError(f"'{checkpoint_file}' is not a usable checkpoint: {exc.message}",
                          hint=exc.hint or "Pass the file written by `python -m steu_core ledger checkpoint`.") from None


def read_checkpoint_file(path: str | Path) -> str:
    """The text of a checkpoint file (Windows line ends undone: the signed text has plain newlines)."""
    path = existing_file(path, "checkpoint file", "Pass the file written by `python -m steu_core ledger checkpoint "
                                                  "--out FILE`.")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise LedgerError(f"'{path}' is too large to be a checkpoint ({path.stat().st_size} bytes).",
                          hint="Pass the file written by `python -m steu_core ledger checkpoint --out FILE`.")
    try:
        return path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerError(f"the checkpoint file '{path}' cannot be read as UTF-8 text ({type(exc).__name__}).",
                          hint="Pass the file written by `python -m steu_core ledger checkpoint --out FILE`.") from None


# -- show -----------------------------------------------------------------------------------------
def cmd_show(args) -> int:
    if args.last is not None:
        check_whole_number(args.last, 1, "--last", "the newest entries to list")
    ledger = Ledger(args.path)
    check_ledger_file(ledger.path, allow_empty=True)
    entries = ledger.entries()
    if args.last is not None:
        entries = entries[-args.last:] if args.last > 0 else []
    if args.json:
        print(json.dumps(entries, indent=2, ensure_ascii=False))
        return 0
    if not entries:
        print(f"The ledger is empty ({ledger.path}).")
        return 0
    for e in entries:  # one line per entry: a newline or ESC in a request field must not forge another
        line = f"{e['seq']:>5}  {e['ts_utc']}  {e['kind']:<8} {short_hash(e['entry_hash'])}  {entry_summary(e['payload'])}"
        print(printable(line))
    return 0


# -- checkpoint -----------------------------------------------------------------------------------
def cmd_checkpoint(args) -> int:
    ledger = Ledger(args.path)
    check_ledger_file(ledger.path)
    signer, created = signer_for(args.key)
    text = sign_checkpoint(ledger, signer, remember=False)
    if args.out:
        write_new_file(Path(args.out).expanduser(), text)
    else:
        sys.stdout.write(text)
    remember_checkpoint(ledger, text)
    size = text.split("\n")[1]
    made = " (a new signing key was made: see `ledger key`)" if created else ""
    where = f"written to '{args.out}'" if args.out else "printed above"
    print(f"Checkpoint of {size} entries signed by {signer.name} (key ID {signer.verifier().key_id.hex()}){made}, "
          f"{where}. Send it to a witness outside the hospital's control (see docs/DEPLOYMENT.md).", file=sys.stderr)
    return 0


def cmd_start_new(args) -> int:
    """Writers refuse a ledger that lost the entries its head record covers; this is the explicit new start."""
    ledger = Ledger(args.path)
    n = len(ledger) if ledger.path.is_file() else 0
    head = check_head(ledger, n)
    if head.ok:
        raise LedgerError(f"the ledger '{ledger.path}' holds every entry of its head record ({n} entries): there is "
                          "nothing to start anew.", hint="Keep using it; 'ledger verify' checks it.")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept = retire_head(ledger.path, stamp)
    print(f"The ledger '{ledger.path}' ({n} entries) no longer matched its head record: {head.reason}.\n"
          f"The head record was kept as '{kept}'; the next entry starts from what the ledger holds now. Record why "
          "(a checkpoint held by a witness shows the gap).")
    return 0


def write_new_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file: a checkpoint is evidence, so an existing file is never overwritten (and
    nothing but a new regular file is written: steu_core.outputs)."""
    if path.is_file() and not path.is_symlink():
        raise LedgerError(f"'{path}' already exists; checkpoints are never overwritten.",
                          hint="Choose a new file name, e.g. with the date: checkpoint-2026-01-31.txt.")
    try:
        write_output(path, text.encode("utf-8"), "--out")
    except OSError as exc:
        raise LedgerError(f"cannot write the checkpoint to '{path}' ({type(exc).__name__}).",
                          hint="Check that the folder exists and is writable.") from None


# -- key ------------------------------------------------------------------------------------------
def cmd_key(args) -> int:
    path = Path(args.key).expanduser() if args.key else default_key_path()
    if args.rotate:
        signer, retired = rotate_signer(path, args.name)
        note = (f"Rotated: a new key was made at '{path}'. The old public key, still needed to check the "
                f"checkpoints it signed, is in '{retired}'.")
    else:
        signer, created = signer_for(path, create=True, name=args.name)
        note = f"{'Made a new' if created else 'The'} ledger signing key: '{path}' (owner-only; back it up)."
    print(signer.verifier().text())
    print(f"{note}\nThe line above is its public key: save it (e.g. `python -m steu_core ledger key > "
          "steu-ledger.pub`) and give it to whoever checks your checkpoints; they pass it to "
          "`ledger verify --public-key FILE`.", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    """Add ``ledger verify|show|checkpoint|key`` to a ``python -m steu_core`` parser."""
    p = subparsers.add_parser("ledger", help="check, list, checkpoint and sign the hash-chained log of requests and runs")
    sub = p.add_subparsers(dest="ledger_command", required=True)
    path_help = "ledger file (default: the data directory's ledger.sqlite)"

    v = sub.add_parser("verify", help="check the hash chain (and, with --checkpoint, that the ledger extends a signed "
                                      "checkpoint); exit 1 and name what differs if it fails")
    v.add_argument("--path", help=path_help)
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.add_argument("--checkpoint", metavar="FILE", help="a checkpoint written by `ledger checkpoint`")
    v.add_argument("--public-key", metavar="FILE", help="the public key that signed it (default: the local key)")
    v.add_argument("--allow-empty", action="store_true", help="accept a missing or empty ledger (a new installation)")
    v.set_defaults(func=cmd_verify)

    s = sub.add_parser("show", help="list ledger entries, oldest first")
    s.add_argument("--last", type=int, metavar="N", help="only the newest N entries")
    s.add_argument("--path", help=path_help)
    s.add_argument("--json", action="store_true", help="print full entries as JSON")
    s.set_defaults(func=cmd_show)

    c = sub.add_parser("checkpoint", help="sign the ledger's current state (tree size and Merkle root)")
    c.add_argument("--path", help=path_help)
    c.add_argument("--out", metavar="FILE", help="write it to this new file (default: print it)")
    c.add_argument("--key", metavar="FILE", help="signing key file (default: the data directory's, made on first use)")
    c.set_defaults(func=cmd_checkpoint)

    n = sub.add_parser("start-new", help="start a new, empty ledger where the old one was lost (its head record "
                                         "is kept beside it as .retired-<time>): only when it cannot be restored")
    n.add_argument("--path", help=path_help)
    n.set_defaults(func=cmd_start_new)

    k = sub.add_parser("key", help="print the public key of the ledger's signing key (made on first use)")
    k.add_argument("--key", metavar="FILE", help="signing key file (default: the data directory's)")
    k.add_argument("--name", help="the key's name when it is made: it names the log in every checkpoint")
    k.add_argument("--rotate", action="store_true", help="retire the key and make a new one with the same name")
    k.set_defaults(func=cmd_key)
