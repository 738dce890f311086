"""SHA-256 digests of checkpoint files and directories (what a run, a report and the ledger record)."""
from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_directory(path: str | Path) -> dict:
    """SHA-256 of every file under ``path`` and one digest over all of them (name-ordered)."""
    path = Path(path)
    files = {str(p.relative_to(path)): file_sha256(p) for p in sorted(path.rglob("*")) if p.is_file()}
    total = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(files.items())).encode()).hexdigest()
    return {"sha256": total, "files": files}
