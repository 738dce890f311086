"""A finished run's new model version and patch as downloads, each with the SHA-256 of exactly the
bytes handed out.

The model goes out as a zip of its directory built on demand. The zip is the same bytes every time
it is built (sorted names, fixed timestamps and permissions, no compression, always written as a
stream), so its SHA-256 can be computed and shown before anyone clicks, without keeping the archive
anywhere, and the downloaded file can be checked against it. The patch goes out as the file the run
wrote; its SHA-256 is compared with the one recorded in ``manifest.json`` (which the ledger holds).
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ConfigError
from .hashing import file_sha256

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: no build time in the bytes
FILE_MODE = 0o644
CHUNK = 1 << 20


@dataclass(frozen=True)
class Download:
    """One file to hand out: its name, the SHA-256 of its bytes, and how to read them."""

    file_name: str
    sha256: str
    read: Callable[[], bytes]
    recorded_sha256: str | None = None   # what the run recorded, where it recorded one

    @property
    def matches_record(self) -> bool | None:
        return None if self.recorded_sha256 is None else self.recorded_sha256 == self.sha256


class _Stream(io.RawIOBase):
    """A write-only stream without tell(): ``zipfile`` then writes the same bytes whatever the sink."""

    def __init__(self, write: Callable[[bytes], object]):
        super().__init__()
        self._write = write

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self._write(bytes(b))
        return len(b)


def write_model_zip(model_dir: Path, write: Callable[[bytes], object], folder: str = "model") -> None:
    """Zip every file of ``model_dir`` under ``folder/`` into ``write``, reproducibly."""
    files = sorted(p for p in Path(model_dir).rglob("*") if p.is_file())
    with zipfile.ZipFile(_Stream(write), "w", compression=zipfile.ZIP_STORED) as zf:
        for path in files:
            info = zipfile.ZipInfo(f"{folder}/{path.relative_to(model_dir).as_posix()}", date_time=ZIP_DATE)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # unix, whatever system builds it
            with open(path, "rb") as src, zf.open(info, "w", force_zip64=path.stat().st_size > 2**31) as dst:
                while block := src.read(CHUNK):
                    dst.write(block)


def model_zip_bytes(model_dir: Path, folder: str = "model") -> bytes:
    buf = io.BytesIO()
    write_model_zip(model_dir, buf.write, folder)
    return buf.getvalue()


def model_zip_sha256(model_dir: Path, folder: str = "model") -> str:
    """The SHA-256 of :func:`model_zip_bytes`, streamed through the hash (nothing is kept)."""
    h = hashlib.sha256()
    write_model_zip(model_dir, h.update, folder)
    return h.hexdigest()


def run_manifest(run_dir: Path) -> dict:
    try:
        return json.loads((Path(run_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        raise ConfigError(f"run '{Path(run_dir).name}' has no readable manifest.json.",
                          hint="Only a finished run's files can be downloaded; run the request again.") from None


def model_download(run_dir: Path, sha256: str | None = None) -> Download:
    """The run's new model version as a zip named after the run. ``sha256``: the zip's hash as
    computed earlier by this function for the same finished run (the hash pass is then skipped)."""
    run_dir = Path(run_dir)
    model_dir = run_dir / run_manifest(run_dir)["unlearned_model"]["path"]
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"run '{run_dir.name}' has no new model directory.",
                          hint="Only a finished run's files can be downloaded; run the request again.")
    folder = f"{run_dir.name}-model"
    return Download(f"{folder}.zip", sha256 or model_zip_sha256(model_dir, folder),
                    lambda: model_zip_bytes(model_dir, folder))


def patch_download(run_dir: Path) -> Download:
    """The run's patch file, with the SHA-256 recorded for it in the manifest."""
    run_dir = Path(run_dir)
    entry = run_manifest(run_dir)["patch"]
    path = run_dir / entry["path"]
    if not path.is_file():
        raise ConfigError(f"run '{run_dir.name}' has no {entry['path']}.",
                          hint="Only a finished run's files can be downloaded; run the request again.")
    return Download(f"{run_dir.name}-{path.name}", file_sha256(path), path.read_bytes, entry.get("sha256"))
