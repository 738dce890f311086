"""``hash-password``: make the salted hash to set as ``STEU_DASHBOARD_PASSWORD_HASH``, so that the
dashboard password is stored nowhere in plain text."""
from __future__ import annotations

import getpass
import sys

from ..access import MIN_PASSWORD_LENGTH, PASSWORD_HASH_ENV, AccessError
from ..password_hash import hash_password

MAX_PASSWORD_CHARS = 1024


def read_password() -> str:
    """Typed twice at a terminal (not echoed); else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("Dashboard password: ")
        if getpass.getpass("Again: ") != first:
            raise AccessError("the two passwords differ.", hint="Run the command again.")
        return first
    return sys.stdin.readline(MAX_PASSWORD_CHARS + 1).rstrip("\r\n")


def cmd_hash_password(args) -> int:
    password = read_password()
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccessError(f"the password is longer than {MAX_PASSWORD_CHARS} characters.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"the password is too short ({len(password)} characters; at least {MIN_PASSWORD_LENGTH} "
                          "are required).", hint="Use a passphrase of several words.")
    print(hash_password(password))
    print(f"Set the line above as {PASSWORD_HASH_ENV} (environment or .streamlit/secrets.toml) and remove any plain "
          "STEU_DASHBOARD_PASSWORD.", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("hash-password", help="print a salted scrypt hash of the dashboard password (read from the "
                                             "terminal, or the first line of standard input)")
    p.set_defaults(func=cmd_hash_password)
