"""What a regulator receives: one zip (the *packet*) holding everything needed to check a report offline,
and finding those pieces again, inside a packet or beside a PDF whatever it is called.

A packet ``<name>.zip`` holds, under the same ``<name>``:

- ``<name>.pdf``: the signed report, byte for byte the file whose SHA-256 the ledger recorded;
- ``<name>.proof.json``: the proof file (:func:`.anchors.write_sidecar`): that SHA-256's ledger entry, its
  inclusion proof and the signed checkpoint it leads to;
- ``steu-ledger.pub``: the ledger's public key, the one that signed the proof file's checkpoint. It comes
  for convenience: it shows the packet is complete and unchanged, not who sent it (the verifier says so and
  prints its key ID to compare with one received separately);
- ``HOW-TO-VERIFY.txt``: the two commands that check it.

The zip is the same bytes every time it is built (sorted names, fixed dates, stored), so its SHA-256 can be
shown beside the download. Only light modules are imported here: ``verify-report`` runs without torch.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .anchors import sidecar_path

PACKET_SUFFIX = ".zip"
KEY_FILE = "steu-ledger.pub"
README_FILE = "HOW-TO-VERIFY.txt"
PROOF_SUFFIX = ".proof.json"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip holds: no build time in the bytes
MAX_MEMBER_BYTES = {".pdf": 512 * 1024 * 1024, PROOF_SUFFIX: 8 * 1024 * 1024, ".pub": 4096, ".txt": 64 * 1024}
MAX_MEMBERS, MAX_PROOFS_SCANNED = 64, 200
INSTALL_LINE = "python -m pip install -r requirements-verify.txt"
ASK_PACKET = ("the whole packet: the .zip file that the dashboard's \"Download for the regulator\" button or "
              "`python -m steu_core report` makes; it holds the PDF, its proof file and the public key")


@dataclass(frozen=True)
class Packet:
    """A packet to hand out: its file name, its bytes and their SHA-256."""

    file_name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Received:
    """What verification starts from: the PDF, the proof file and the public key found with it (None: not found).

    ``where``: where they were found, in words ("in the packet x.zip", "in the folder /y"); ``*_name``: the
    file each came from, for the output; ``looked``: how many proof files were looked at."""

    pdf_name: str
    pdf: bytes
    where: str
    proof: dict | None = None
    proof_name: str | None = None
    key_text: str | None = None
    key_name: str | None = None
    looked: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


def packet_path(pdf: str | Path) -> Path:
    """``report.pdf`` -> ``report.zip``, beside it."""
    return Path(pdf).with_suffix(PACKET_SUFFIX)


def packet_for(pdf: str | Path, name: str | None = None) -> Packet:
    """The packet of the report ``pdf`` (its proof file must be beside it, as ``report`` wrote it); ``name``:
    the name its files get (default: the PDF's own stem)."""
    pdf = Path(pdf)
    proof = sidecar_path(pdf)
    if not proof.is_file():
        raise ConfigError(f"the report '{pdf.name}' has no proof file beside it ('{proof.name}'), so no packet "
                          "can be made.", hint="Make the report again: the PDF and its proof file are written together.")
    evidence = json.loads(proof.read_text(encoding="utf-8"))
    key = evidence.get("public_key")
    if not key:
        raise ConfigError(f"the proof file '{proof.name}' holds no proof ({evidence.get('error') or 'no key'}).",
                          hint="Check the ledger (`python -m steu_core ledger verify`), then make the report again.")
    stem = name or pdf.stem
    members = {f"{stem}.pdf": pdf.read_bytes(), f"{stem}{PROOF_SUFFIX}": proof.read_bytes(),
               KEY_FILE: (key + "\n").encode("ascii"), README_FILE: how_to_verify(f"{stem}{PACKET_SUFFIX}").encode()}
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as zf:
        for member in sorted(members):
            info = zipfile.ZipInfo(member, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[member])
    return Packet(f"{stem}{PACKET_SUFFIX}", sink.getvalue())


def how_to_verify(packet_name: str) -> str:
    """The text inside a packet: what it holds and the exact commands that check it."""
    return (f"STEU Audit report packet: {packet_name}\n\n"
            "It holds the signed report (PDF), its proof file (.proof.json: shows the hospital's signed log recorded\n"
            f"exactly this PDF) and the log's public key ({KEY_FILE}).\n\n"
            "To check it, with Python 3.11 and the STEU Audit source code (no torch or GPU needed):\n\n"
            f"  {INSTALL_LINE}\n"
            f"  python -m steu_core verify-report {packet_name} --public-key THE-KEY-YOU-WERE-GIVEN.pub\n\n"
            f"Without --public-key the key inside the packet is used: the check then shows the packet is complete\n"
            "and unchanged, but not who made it. Compare the key ID it prints with the one the sender gave you\n"
            "by another route (letter, phone, their website).\n")


def is_packet(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"
