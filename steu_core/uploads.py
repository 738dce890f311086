"""Files a user uploads for a request (the dashboard), stored under the data directory."""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from .paths import steu_home

UPLOAD_TYPES = ["csv", "tsv", "jsonl", "ndjson", "parquet", "pq"]
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

def uploads_dir() -> Path:
    path = steu_home() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path

def safe_filename(name: str) -> str:
    """The uploaded file's base name, reduced to safe characters (its extension kept)."""
    base = Path(str(name).replace("\\", "/")).name
    stem, ext = os.path.splitext(base)
    stem = _SAFE_NAME.sub("_", stem).strip("._") or "upload"
    ext = _SAFE_NAME.sub("", ext.lower())
    return f"{stem[:80]}{ext}"

def save_upload(name: str, data: bytes) -> Path:
    """Store an uploaded file under ``<data dir>/uploads/<content hash>/<name>`` (atomically; the
    same bytes uploaded twice land in the same place)."""
    digest = hashlib.sha256(data).hexdigest()[:20]
    folder = uploads_dir() / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_filename(name)
    if not (path.is_file() and path.stat().st_size == len(data)):
        tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path

