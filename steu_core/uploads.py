"""Files a user uploads for a request (the dashboard), kept only while the request needs them.

A privacy tool must not keep a copy of the notes a patient asked to have forgotten. So an upload
lives in ``<data dir>/uploads/<session>/<upload id>/<name>`` (folders 0700, the file 0600) and is
deleted:

* when it is replaced or removed in the dashboard (unless a run in progress still reads it);
* when the run that read it ends, finished, failed or cancelled: a run started with uploaded files
  names them in its launch record (``LAUNCH_KEY``) and :func:`release_run` deletes them once the
  worker sees the run end; the run itself keeps only hashes, row counts and file names;
* at start-up, when a session folder is older than the server (a crash or a closed browser left
  it) and no run in progress holds it; the content-addressed folders of versions that kept every
  upload for good (``uploads/<hash>/``) are deleted then too, with a notice.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path

from .model import write_json_atomic
from .paths import private_dir, subdir

UPLOAD_TYPES = ["csv", "tsv", "jsonl", "ndjson", "parquet", "pq"]
LAUNCH_KEY = "uploads"  # in a run's launch record (steu_core.worker): the uploaded files it reads
FILE_MODE = 0o600
ROLES = ("train", "eval", "forget", "forget_ids")  # request fields that may name an uploaded file
MAX_EXT_CHARS = 16  # the dot included; the longest accepted, ".parquet", has 8
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_SESSION = re.compile(r"^req-[0-9a-f]{16}$")


def uploads_dir() -> Path:
    return subdir("uploads")


def new_session() -> str:
    """A fresh id for one dashboard session's uploads (its folder name)."""
    return f"req-{secrets.token_hex(8)}"


def session_dir(session: str) -> Path:
    if not _SESSION.match(str(session or "")):
        raise ValueError(f"not an upload session id: {session!r}")
    return uploads_dir() / session


def safe_filename(name: str) -> str:
    """The uploaded file's base name, reduced to safe characters and at most 80 + ``MAX_EXT_CHARS``
    characters (far below any file system's 255: a 300-character extension cannot make the write
    fail); an extension that long is none of ``UPLOAD_TYPES`` anyway, and the loader says so."""
    base = Path(str(name).replace("\\", "/")).name
    stem, ext = os.path.splitext(base)
    stem = _SAFE_NAME.sub("_", stem).strip("._") or "upload"
    ext = _SAFE_NAME.sub("", ext.lower())[:MAX_EXT_CHARS]
    return f"{stem[:80]}{ext}"


def save_upload(session: str, name: str, data: bytes) -> Path:
    """Write an uploaded file, owner-only, to a new folder of the session: a replaced upload never
    overwrites a file that a run in progress may still be reading."""
    folder = private_dir(session_dir(session) / secrets.token_hex(6))
    path = folder / safe_filename(name)
    # O_EXCL with the mode given at creation: the notes are never readable by others, not even briefly
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _under(path: Path, root: Path) -> bool:
    return path != root and path.is_relative_to(root)


def is_upload(path) -> bool:
    """True for a file in the uploads folder (a sample or local file is never deleted here)."""
    return bool(path) and _under(Path(path).resolve(), uploads_dir().resolve())


def launch_fields(req) -> dict:
    """What a run's launch record keeps of its request's uploads: their paths, to delete at its end."""
    found = [str(Path(p).resolve()) for p in (getattr(req, r, None) for r in ROLES) if is_upload(p)]
    return {LAUNCH_KEY: found} if found else {}


def held_files(launches: Iterable[dict | None]) -> set[str]:
    """The uploads named by these launch records (those of the runs in progress: never deleted)."""
    return {str(p) for rec in launches if rec for p in rec.get(LAUNCH_KEY) or ()}


def remove(paths: Iterable, keep: set[str] = frozenset()) -> int:
    """Delete uploaded files and the folders they leave empty; never a file outside the uploads
    folder or one in ``keep``. Returns how many files were deleted."""
    root = uploads_dir().resolve()
    count = 0
    for p in paths:
        path = Path(p).resolve()
        if str(path) in keep or not _under(path, root):
            continue
        try:
            path.unlink()
            count += 1
        except FileNotFoundError:
            pass
        _prune_empty(path.parent, root)
    return count


def _prune_empty(folder: Path, root: Path) -> None:
    while _under(folder, root):
        try:
            folder.rmdir()
        except OSError:  # not empty (another upload of the session), or already gone
            return
        folder = folder.parent


def remove_session(session: str, keep: set[str] = frozenset()) -> int:
    """Delete a session's uploads (a discarded request), except those a run in progress reads."""
    folder = session_dir(session)
    return remove((f for f in folder.rglob("*") if f.is_file()), keep) if folder.is_dir() else 0


def release_run(launch_file: Path) -> int:
    """Delete the uploads a run's launch record names and drop them from it (so this happens once).
    Called by the worker when it sees the run ended."""
    try:
        record = json.loads(Path(launch_file).read_text())
    except (OSError, ValueError):
        return 0
    held = record.pop(LAUNCH_KEY, None) if isinstance(record, dict) else None
    if not held:
        return 0
    count = remove(held)
    write_json_atomic(Path(launch_file), record)
    return count


def runs_holding_uploads(launch_dir: Path) -> list[str]:
    """Run ids whose launch record still names uploads: runs whose end nobody has seen yet."""
    held = []
    for f in sorted(Path(launch_dir).glob("*.json")):
        try:
            if (json.loads(f.read_text()) or {}).get(LAUNCH_KEY):
                held.append(f.stem)
        except (OSError, ValueError, AttributeError):
            continue
    return held


def drop_missing(files: dict) -> list[str]:
    """Forget a request's uploads whose files are gone (deleted when the run that read them ended);
    returns their names, to tell the user."""
    gone = [role for role, f in files.items() if f.get("source") == "upload" and not Path(f["path"]).is_file()]
    return [files.pop(role).get("name", role) for role in gone]


def startup_cleanup(started: float, keep: set[str] = frozenset()) -> str | None:
    """Delete what no open request needs: earlier versions' uploads and session folders untouched
    since before ``started`` (the server's start), except files in ``keep``. Returns a one-line
    notice for the user, or None when nothing was deleted."""
    root = uploads_dir()
    legacy = stale = 0
    for entry in list(root.iterdir()):
        if _SESSION.match(entry.name) and entry.is_dir() and not entry.is_symlink():
            stale += _remove_stale(entry, started, keep)
        else:  # not a session folder: the permanent copies earlier versions made
            legacy += _remove_legacy(entry)
    parts = []
    if legacy:
        parts.append(f"Deleted {legacy} uploaded file(s) that an earlier version kept in {root}: uploaded "
                     "notes are now kept only while a request needs them.")
    if stale:
        parts.append(f"Deleted {stale} upload(s) left by a session that ended without cleaning up.")
    return " ".join(parts) or None


def _remove_legacy(entry: Path) -> int:
    if entry.is_dir() and not entry.is_symlink():
        count = sum(1 for f in entry.rglob("*") if f.is_file())
        shutil.rmtree(entry, ignore_errors=True)
        return count
    entry.unlink(missing_ok=True)
    return 1


def _remove_stale(folder: Path, started: float, keep: set[str]) -> int:
    files = [f for f in folder.rglob("*") if f.is_file()]
    newest = max([folder.stat().st_mtime] + [f.stat().st_mtime for f in files])
    if newest >= started:  # touched since the server started: a live session's
        return 0
    if any(str(f.resolve()) in keep for f in files):
        return remove(files, keep)
    shutil.rmtree(folder, ignore_errors=True)
    return len(files)
