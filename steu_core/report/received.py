"""Finding what travels with a report, as a regulator received it: the PDF, its proof file and the ledger's
public key, from a packet (:mod:`.packet`) or from the folder of a PDF whatever the PDF is called.

A proof file belongs to a PDF when the ledger entry it proves records that PDF's SHA-256: every
``*.proof.json`` in the packet or the PDF's folder is looked at. Where none records it, the proof file named
like the PDF, or else the only proof file there, is still used, so that a changed PDF fails as *changed*
rather than as *unproven*.
Unusable input (no such file, not a PDF, a damaged zip, an unreadable proof file given by name) is a
:class:`~steu_core.errors.ConfigError` that says what to ask the sender for.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Callable, Iterable

from ..errors import ConfigError
from .packet import (ASK_PACKET, KEY_FILE, MAX_MEMBER_BYTES, MAX_MEMBERS, MAX_PROOFS_SCANNED, PROOF_SUFFIX,
                     Received, is_packet)

MAX_PDF_BYTES = MAX_MEMBER_BYTES[".pdf"]
ASK_PDF = "Give the report PDF or the packet (.zip) you received."


def receive(path: str | Path, proof: str | Path | None = None) -> Received:
    """The PDF ``path`` names (a PDF, or a packet holding one) with the proof file and key found beside it;
    ``proof``: a proof file given by name (it is used whatever it records)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"'{path}' does not exist or is not a file.", hint=ASK_PDF)
    got = _open_packet(path) if is_packet(path) else _open_pdf(path)
    if proof is not None:
        got.proof, got.proof_name = _read_proof(Path(proof).expanduser()), str(proof)
    return got


def proof_pdf_sha256(proof: dict) -> str | None:
    """The PDF SHA-256 that the ledger entry a proof file proves records (None: it records none)."""
    entry = proof.get("entry")
    payload = entry.get("payload") if isinstance(entry, dict) else None
    return payload.get("pdf_sha256") if isinstance(payload, dict) else None


def _open_pdf(path: Path) -> Received:
    if path.stat().st_size > MAX_PDF_BYTES:
        raise ConfigError(f"'{path}' is too large to be a STEU Audit report.", hint=ASK_PDF)
    got = Received(path.name, _check_pdf(path.read_bytes(), f"'{path}'"), f"in the folder '{path.resolve().parent}'")
    files = sorted(p for p in path.parent.glob(f"*{PROOF_SUFFIX}") if p.is_file())[:MAX_PROOFS_SCANNED]
    _pick_proof(got, [(p.name, _bounded_reader(p)) for p in files], path.with_suffix(PROOF_SUFFIX).name)
    key = path.parent / KEY_FILE
    if key.is_file() and key.stat().st_size <= MAX_MEMBER_BYTES[".pub"]:
        got.key_text, got.key_name = key.read_text(encoding="utf-8", errors="replace"), str(key)
    return got


def _open_packet(path: Path) -> Received:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigError(f"'{path}' is not a readable zip file ({type(exc).__name__}).",
                          hint=f"Ask the sender again for {ASK_PACKET}.") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise ConfigError(f"'{path}' holds {len(infos)} files: it is not a STEU Audit packet.", hint=ASK_PDF)
        pdfs = [i for i in infos if i.filename.lower().endswith(".pdf")]
        if len(pdfs) != 1:
            raise ConfigError(f"the packet '{path.name}' holds {len(pdfs)} PDF files, not one.",
                              hint=f"Ask the sender for {ASK_PACKET}." if not pdfs else
                              "Unzip it and give the PDF to check: its proof file is found beside it.")
        got = Received(pdfs[0].filename, _check_pdf(_member(zf, pdfs[0]), f"'{pdfs[0].filename}' in '{path.name}'"),
                       f"in the packet '{path.name}'")
        proofs = [(i.filename, lambda i=i: _member(zf, i)) for i in infos if i.filename.endswith(PROOF_SUFFIX)]
        _pick_proof(got, proofs, str(Path(pdfs[0].filename).with_suffix(PROOF_SUFFIX)))
        keys = [i for i in infos if Path(i.filename).name == KEY_FILE]
        if len(keys) == 1:
            got.key_text = _member(zf, keys[0]).decode("utf-8", errors="replace")
            got.key_name = f"{keys[0].filename} in '{path.name}'"
    return got


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One file of a packet, read no further than its kind may be long (a zip can claim any size)."""
    limit = MAX_MEMBER_BYTES.get(PROOF_SUFFIX if info.filename.endswith(PROOF_SUFFIX) else Path(info.filename).suffix,
                                 MAX_MEMBER_BYTES[".txt"])
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:  # damaged, encrypted
        raise ConfigError(f"'{info.filename}' in the packet cannot be read ({type(exc).__name__}).",
                          hint=f"Ask the sender again for {ASK_PACKET}.") from None
    if len(data) > limit:
        raise ConfigError(f"'{info.filename}' in the packet is too large to be part of a STEU Audit report.")
    return data


def _check_pdf(data: bytes, what: str) -> bytes:
    if not data.startswith(b"%PDF-"):
        raise ConfigError(f"{what} is not a PDF file.", hint=ASK_PDF)
    return data


def _bounded_reader(path: Path) -> Callable[[], bytes | None]:
    return lambda: path.read_bytes() if path.stat().st_size <= MAX_MEMBER_BYTES[PROOF_SUFFIX] else None


def _pick_proof(got: Received, candidates: Iterable[tuple[str, Callable[[], bytes | None]]], own_name: str) -> None:
    """The proof file whose entry records ``got``'s SHA-256; else the one named like the PDF, or the only proof
    file there is (then the PDF was changed, or the proof is another report's: the hash check says so); else none."""
    own, readable = None, []
    for name, read in candidates:
        got.looked += 1
        try:
            data = read()
            proof = json.loads(data) if data is not None else None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            proof = None  # another file that is no proof: only the PDF's own proof file must be readable
        if isinstance(proof, dict) and proof_pdf_sha256(proof) == got.sha256:
            got.proof, got.proof_name = proof, name
            return
        if name == own_name:
            own = (name, proof)
        elif isinstance(proof, dict) and proof_pdf_sha256(proof):
            readable.append((name, proof))
    if own is None and len(readable) == 1:
        own = readable[0]
    if own is not None:
        if not isinstance(own[1], dict):
            raise ConfigError(f"the proof file '{own[0]}' {got.where} cannot be read as a proof.",
                              hint=f"Ask the sender again for the report's proof file, or for {ASK_PACKET}.")
        got.proof_name, got.proof = own


def _read_proof(path: Path) -> dict:
    """A proof file given by name: it must be readable and hold a proof object."""
    try:
        if path.stat().st_size > MAX_MEMBER_BYTES[PROOF_SUFFIX]:
            raise ConfigError(f"the proof file '{path}' is too large to be a proof file.")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"the proof file '{path}' cannot be read ({type(exc).__name__}).",
                          hint="Give the .proof.json delivered with the report.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"the proof file '{path}' does not hold a proof object.")
    return data
