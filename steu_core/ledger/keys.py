"""The ledger's signing key on disk: made on first use, kept owner-only, rotated on request.

The default key is ``steu_home()/keys/ledger-signing.key`` (the file 0600, the folder 0700), in the
text form ``PRIVATE+KEY+<name>+<key ID>+<base64>`` (see :mod:`.note`). Its name is the *origin* of
every checkpoint it signs (c2sp.org/tlog-checkpoint asks that the two match), so it stays the same
when the key is rotated: ``<host name>/steu-ledger`` unless chosen with ``ledger key --name``.

A key file that other users can read is refused (like ssh does): whoever can read it can sign
checkpoints in the hospital's name.
"""
from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path

from ..paths import steu_home
from .errors import LedgerError
from .files import existing_file
from .note import SignerKey, VerifierKey, check_key_name

KEYS_DIR = "keys"
KEY_FILE = "ledger-signing.key"
_PRIVATE = os.name != "nt"  # POSIX modes; on Windows the user profile's ACLs protect the data directory


def default_key_path() -> Path:
    """``steu_home()/keys/ledger-signing.key``."""
    return steu_home() / KEYS_DIR / KEY_FILE


def default_key_name() -> str:
    """``<host name>/steu-ledger``: a schema-less URL-like name, as the signed-note spec recommends."""
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname()).strip("-.") or "localhost"
    return f"{host}/steu-ledger"


def _private_dir(path: Path) -> None:
    """Make the key's folder and keep it owner-only (0700), whatever the umask made of it."""
    path.mkdir(parents=True, exist_ok=True)
    if _PRIVATE:
        path.chmod(0o700)


def _write_new(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` (mode 0600) only if no file is there; False if one already was.

    The key is written to a temporary file and linked into place, so that a second process making
    the key at the same moment either wins or reads a complete key, never half of one.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        if _PRIVATE:
            tmp.chmod(0o600)
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # no hard links on this file system (some network or FAT mounts): create exclusively
        return _write_exclusive(path, text)
    finally:
        tmp.unlink(missing_ok=True)


def _write_exclusive(path: Path, text: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return True


def create_signer(path: Path, name: str | None = None) -> SignerKey:
    """A new key at ``path`` (0600 in a 0700 folder); the key already there if another process won."""
    _private_dir(path.parent)
    signer = SignerKey.generate(check_key_name(name or default_key_name()))
    if _write_new(path, signer.text()):
        return signer
    return load_signer(path)


def load_signer(path: Path) -> SignerKey:
    """The key in ``path``. Refused when the file is missing, not owner-only, or not a key."""
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise LedgerError(f"the signing key '{path}' {what}.",
                          hint="Omit --key to use (and on first use make) the data directory's key, or make one "
                               f"there with `python -m steu_core ledger key --key '{path}'`.")
    mode = path.stat().st_mode
    if _PRIVATE and mode & 0o077:
        raise LedgerError(f"the signing key '{path}' can be read or changed by other users "
                          f"(mode {stat.filemode(mode)}).", hint=f"Make it owner-only: chmod 600 '{path}'.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerError(f"the signing key '{path}' cannot be read ({type(exc).__name__}).",
                          hint="Check the file's owner and restore it from its backup if it is damaged.") from None
    return SignerKey.from_text(text, source=f"the signing key '{path}'")


def signer_for(path: str | Path | None = None, *, create: bool | None = None,
               name: str | None = None) -> tuple[SignerKey, bool]:
    """``(key, created)``: the key at ``path`` (default: the data directory's).

    A missing key is made when ``create`` is True; by default only the data directory's key is made
    on first use, so that a mistyped ``--key`` path is an error and not a new key.
    """
    target = Path(path).expanduser() if path is not None else default_key_path()
    create = (path is None) if create is None else create
    if create and not target.exists():
        return create_signer(target, name), True
    signer = load_signer(target)
    if name is not None and name != signer.name:
        raise LedgerError(f"the key '{target}' already exists, named {signer.name!r}; --name applies only when a "
                          "key is made.", hint="Leave out --name, or use --rotate to make a new key with that name.")
    return signer, False


def rotate_signer(path: str | Path | None = None, name: str | None = None) -> tuple[SignerKey, Path]:
    """Retire the key at ``path`` and make a new one there; returns the new key and the retired public
    key's file (``ledger-signing.<key ID>.pub``), which still checks the checkpoints the old key signed.

    The retired private key is kept next to it (``.retired.key``, 0600) so that nothing is lost; the
    deployment guide says when to destroy it.
    """
    target = Path(path).expanduser() if path is not None else default_key_path()
    old = load_signer(target)
    old_id = old.verifier().key_id.hex()
    stem = target.name[: -len(".key")] if target.name.endswith(".key") else target.name
    retired = target.with_name(f"{stem}.{old_id}.retired.key")
    public = target.with_name(f"{stem}.{old_id}.pub")
    if retired.exists():
        raise LedgerError(f"'{retired}' already exists: this key was retired before.",
                          hint="Move that file away first.")
    public.write_text(old.verifier().text() + "\n", encoding="utf-8")
    os.replace(target, retired)
    return create_signer(target, name or old.name), public


def load_verifier(path: str | Path) -> VerifierKey:
    """The public key saved in ``path`` (the line printed by ``ledger key``; '#' lines are comments)."""
    path = existing_file(path, "public key file", "Pass the file saved from `python -m steu_core ledger key` (one line).")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerError(f"the public key file '{path}' cannot be read ({type(exc).__name__}).") from None
    return parse_verifier(text, f"the public key file '{path}'")


def parse_verifier(text: str, source: str) -> VerifierKey:
    """The one public key line of ``text`` (a key file's content; '#' lines are comments); ``source`` names it."""
    keys = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if len(keys) != 1:
        raise LedgerError(f"{source} must hold exactly one key line (found {len(keys)}).",
                          hint="Save only the line printed by `python -m steu_core ledger key`.")
    return VerifierKey.from_text(keys[0], source=source)


def local_verifier() -> VerifierKey:
    """The public half of the data directory's signing key (never makes one)."""
    path = default_key_path()
    if not path.exists():
        raise LedgerError(f"no public key was given and there is no signing key here ('{path}').",
                          hint="Pass --public-key FILE: the public key saved from `ledger key` on the machine "
                               "that signed the checkpoint.")
    return load_signer(path).verifier()
