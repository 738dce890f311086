"""Salted password hashes for the dashboard password: scrypt from the standard library (RFC 7914).

A hash is one line, ``scrypt$<n>$<r>$<p>$<salt, base64>$<key, base64>``, made by
``python -m steu_core hash-password`` and set as ``STEU_DASHBOARD_PASSWORD_HASH``: the plain text is then
stored nowhere. Checking a typed password derives its key with the same salt and cost and compares
the two keys in constant time. The cost (n = 2**15, r = 8: 32 MiB and a few tens of milliseconds
per guess) makes a stolen hash slow to attack; the attempt limiter slows guessing over the network.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from .errors import ConfigError

SCHEME = "scrypt"
DEFAULT_N, DEFAULT_R, DEFAULT_P = 2 ** 15, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
MAX_MEMORY = 256 * 2 ** 20  # scrypt needs 128 * n * r bytes: a costlier hash could exhaust the server per guess
FORMAT_HINT = ("Make one with `python -m steu_core hash-password` (it prints a line starting with 'scrypt$') and "
               "set it as STEU_DASHBOARD_PASSWORD_HASH.")


@dataclass(frozen=True)
class PasswordHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def text(self) -> str:
        b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
        return f"{SCHEME}${self.n}${self.r}${self.p}${b64(self.salt)}${b64(self.key)}"


def derive(password: str, n: int, r: int, p: int, salt: bytes, length: int = KEY_BYTES) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=MAX_MEMORY + (1 << 20))


def hash_password(password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """A new salted hash of ``password`` (a fresh random salt each time)."""
    salt = secrets.token_bytes(SALT_BYTES)
    return PasswordHash(n, r, p, salt, derive(password, n, r, p, salt)).text()


def parse_password_hash(text: str) -> PasswordHash:
    """The parts of a hash line; a ConfigError naming what is wrong otherwise (never echoing the line)."""
    parts = str(text).strip().split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ConfigError("the dashboard password hash is not in the form scrypt$n$r$p$salt$key.", hint=FORMAT_HINT)
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, key = (base64.b64decode(x.encode("ascii"), validate=True) for x in parts[4:6])
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise ConfigError("the dashboard password hash has a cost that is not a number or a salt/key that is not "
                          "base64.", hint=FORMAT_HINT) from None
    if not (2 <= n and n & (n - 1) == 0 and 1 <= r and 128 * n * r <= MAX_MEMORY and 1 <= p <= 16):
        raise ConfigError(f"the dashboard password hash asks for an unsupported scrypt cost (n a power of two, "
                          f"128 * n * r at most {MAX_MEMORY // 2 ** 20} MiB, p at most 16).", hint=FORMAT_HINT)
    if len(salt) < 8 or len(key) < 16:
        raise ConfigError("the dashboard password hash has a salt or key that is too short.", hint=FORMAT_HINT)
    return PasswordHash(n, r, p, salt, key)


def check_password(given: str | None, stored: PasswordHash) -> bool:
    """Does ``given`` hash to ``stored``? Constant-time over the derived keys."""
    if given is None:
        return False
    derived = derive(str(given), stored.n, stored.r, stored.p, stored.salt, len(stored.key))
    return hmac.compare_digest(derived, stored.key)
