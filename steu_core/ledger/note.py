"""Signed notes (c2sp.org/signed-note) with Ed25519 keys: the envelope of a ledger checkpoint.

A signed note is a UTF-8 text ending in a newline, a blank line, and one or more signature lines::

    <text, one or more lines, each ending in \\n>
    <blank line>
    — <key name> <base64(4-byte key ID || 64-byte Ed25519 signature over the text)>

    key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]

Keys are written in the text forms of Go's ``golang.org/x/mod/sumdb/note`` package, so that other
tools can read them:

* verifier (public) key: ``<name>+<key ID, 8 hex digits>+<base64(0x01 || public key)>``
* signer (private) key:  ``PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || 32-byte seed)>``

``cryptography`` is imported on first use, so that reading the ledger never needs it.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field

from .errors import LedgerError

ED25519 = 0x01  # the signature type byte of Ed25519 in the signed-note spec
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 64  # the spec asks verifiers to accept at least 16 (witness cosignatures)
PRIVATE_PREFIX = "PRIVATE+KEY+"


def _ed25519():
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - cryptography is in requirements.txt
        raise LedgerError("signing or checking a ledger checkpoint needs the 'cryptography' package, which is "
                          "not installed.", hint="Install it: pip install 'cryptography>=42'.") from None
    return ed25519


def check_key_name(name: str) -> str:
    """``name`` if it can name a key: non-empty, no spaces, no '+', no control characters."""
    if not isinstance(name, str) or not name:
        raise LedgerError("a key name must not be empty.", hint="Use a name like 'hospital.example/steu-ledger'.")
    if any(c.isspace() or c == "+" or ord(c) < 0x20 for c in name):
        raise LedgerError(f"the key name {name!r} contains a space, a '+' or a control character.",
                          hint="Use a name like 'hospital.example/steu-ledger' (letters, digits, . / - _).")
    return name


def key_id(name: str, public_raw: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + public_raw).digest()[:4]


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise LedgerError(f"{what} is not valid base64.") from None


def _key_bytes(name: str, hex_id: str, b64: str, what: str) -> bytes:
    """The 32 key bytes of a key text's last two fields, checked against its type byte and key ID."""
    raw = _b64decode(b64, what)
    if len(raw) != 33 or raw[0] != ED25519:
        raise LedgerError(f"{what} is not an Ed25519 key (expected type 0x01 and 32 key bytes).")
    if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id.lower()):
        raise LedgerError(f"{what}: the key ID {hex_id!r} is not 8 hexadecimal digits.")
    return raw[1:]


@dataclass(frozen=True)
class VerifierKey:
    """A public key that checks signatures: its name and its 32 Ed25519 public-key bytes."""

    name: str
    public_raw: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_raw)

    def text(self) -> str:
        """``<name>+<key ID hex>+<base64(0x01 || public key)>``: one line to save and hand on."""
        b64 = base64.b64encode(bytes([ED25519]) + self.public_raw).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{b64}"

    @classmethod
    def from_text(cls, text: str, source: str = "the public key") -> "VerifierKey":
        """Parse the text form; a wrong key ID (a name or key edited) is an error."""
        parts = text.strip().split("+", 2)  # the base64 key may itself hold '+'
        if text.strip().startswith(PRIVATE_PREFIX):
            raise LedgerError(f"{source} is a private (signing) key, not a public key.",
                              hint="Pass the public key printed by `python -m steu_core ledger key`.")
        if len(parts) != 3:
            raise LedgerError(f"{source} is not a ledger public key (expected '<name>+<key ID>+<base64 key>').",
                              hint="Pass the line printed by `python -m steu_core ledger key`.")
        name, hex_id, b64 = parts
        key = cls(check_key_name(name), _key_bytes(name, hex_id, b64, source))
        if key.key_id.hex() != hex_id.lower():
            raise LedgerError(f"{source}: the key ID {hex_id} does not match the name and key (edited?).",
                              hint="Ask for the public key again, as printed by `ledger key`.")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        ed25519 = _ed25519()
        from cryptography.exceptions import InvalidSignature

        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.public_raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SignerKey:
    """A private key that signs notes. ``seed`` (the 32-byte Ed25519 private key) is never printed."""

    name: str
    seed: bytes = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> "SignerKey":
        return cls(check_key_name(name), os.urandom(32))

    def _private(self):
        return _ed25519().Ed25519PrivateKey.from_private_bytes(self.seed)

    def verifier(self) -> VerifierKey:
        from cryptography.hazmat.primitives import serialization

        raw = self._private().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return VerifierKey(self.name, raw)

    def text(self) -> str:
        """``PRIVATE+KEY+<name>+<key ID hex>+<base64(0x01 || seed)>``: the key file's content."""
        b64 = base64.b64encode(bytes([ED25519]) + self.seed).decode("ascii")
        return f"{PRIVATE_PREFIX}{self.name}+{self.verifier().key_id.hex()}+{b64}"

    @classmethod
    def from_text(cls, text: str, source: str = "the signing key") -> "SignerKey":
        text = text.strip()
        parts = text[len(PRIVATE_PREFIX):].split("+", 2) if text.startswith(PRIVATE_PREFIX) else []
        if len(parts) != 3:
            raise LedgerError(f"{source} is not a ledger signing key (expected 'PRIVATE+KEY+<name>+<key ID>+...').",
                              hint="Pass the key file made by `python -m steu_core ledger key`.")
        name, hex_id, b64 = parts
        key = cls(check_key_name(name), _key_bytes(name, hex_id, b64, source))
        if key.verifier().key_id.hex() != hex_id.lower():
            raise LedgerError(f"{source}: the key ID {hex_id} does not match the key (the file was edited).",
                              hint="Restore the key file from its backup.")
        return key

    def sign(self, message: bytes) -> bytes:
        return self._private().sign(message)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key name, the 4-byte key ID and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes


def check_note_text(text: str) -> None:
    """A note text is non-empty, ends in a newline and holds no control characters but newlines."""
    if not text or not text.endswith("\n"):
        raise LedgerError("a note text must be non-empty and end with a newline.")
    bad = next((c for c in text if ord(c) < 0x20 and c != "\n"), None)
    if bad is not None:
        raise LedgerError(f"the note holds a control character ({ord(bad):#04x}); only newlines are allowed.")


def sign_note(text: str, signer: SignerKey) -> str:
    """The signed note: ``text``, a blank line and one signature line by ``signer``."""
    check_note_text(text)
    signature = signer.verifier().key_id + signer.sign(text.encode("utf-8"))
    return f"{text}\n{SIGNATURE_PREFIX}{signer.name} {base64.b64encode(signature).decode('ascii')}\n"


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines (nothing is verified here)."""
    if not isinstance(note, str) or not note.endswith("\n"):
        raise LedgerError("this is not a signed note: it does not end with a newline.")
    check_note_text(note)
    split = note.rfind("\n\n")  # the text ends at the *last* blank line
    if split < 0:
        raise LedgerError("this is not a signed note: there is no blank line before the signatures.")
    text, lines = note[:split + 1], note[split + 2:].splitlines()
    if not lines or len(lines) > MAX_SIGNATURES:
        raise LedgerError(f"a signed note must end with 1 to {MAX_SIGNATURES} signature lines (found {len(lines)}).")
    return text, [_parse_signature_line(line) for line in lines]


def _parse_signature_line(line: str) -> NoteSignature:
    fields = line[len(SIGNATURE_PREFIX):].split(" ") if line.startswith(SIGNATURE_PREFIX) else []
    if len(fields) != 2:
        raise LedgerError(f"not a signature line (expected '\u2014 <key name> <base64>'): {line[:80]!r}")
    name, b64 = fields
    raw = _b64decode(b64, f"the signature of {name!r}")
    if len(raw) < 5:
        raise LedgerError(f"the signature of {name!r} is too short.")
    return NoteSignature(check_key_name(name), raw[:4], raw[4:])


def open_note(note: str, key: VerifierKey) -> tuple[str | None, str]:
    """``(text, "")`` when ``note`` carries a valid signature by ``key``, else ``(None, reason)``.

    Signatures by other keys are ignored (witness cosignatures, rotated keys), as the spec asks;
    a signature that claims to be by ``key`` and does not verify rejects the whole note.
    """
    text, signatures = parse_note(note)
    mine = [s for s in signatures if s.name == key.name and s.key_id == key.key_id]
    if not mine:
        others = ", ".join(f"{s.name} (key ID {s.key_id.hex()})" for s in signatures)
        return None, (f"not signed by the key {key.name} (key ID {key.key_id.hex()}); it is signed by {others}: "
                      "a different or rotated key")
    if not all(key.verify(text.encode("utf-8"), s.signature) for s in mine):
        return None, (f"the signature by {key.name} does not verify: the checkpoint's text was changed after "
                      "it was signed")
    return text, ""
