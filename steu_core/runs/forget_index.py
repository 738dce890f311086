"""A finished run's forget set, found again in the training file: a later request on the same notes (a
comparison after the run, another method) names the run (``--forget-from-run RUN``) instead of the forget
file, which the dashboard deletes with the run's uploads.

The run keeps ``forget-notes.json`` (owner-only) in its directory: the SHA-256 of each forget note as notes
are matched across files (:func:`steu_core.data.note_digest`), in the forget set's order, with the class and
the training file's content hash. Never in results.json, the report or the ledger: whoever holds a note's
text could confirm with its hash that the note was in the request. The forget set found again is the
training notes with those hashes, in that order, with their training labels; a hash the training file
does not hold is refused (the forget set would not be the run's).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..data import NoteSet, note_digest
from ..errors import ConfigError, DataError
from ..paths import runs_dir
from ..model import file_sha256

INDEX_FILE = "forget-notes.json"
SCHEMA = "steu-forget-notes/1"
FILE_MODE = 0o600


def forget_file_sha256(req) -> str | None:
    """The SHA-256 of the file that named a request's forget set (its notes or ids); None without one."""
    named = req.forget or req.forget_ids
    return file_sha256(Path(named)) if named else None


def write_forget_index(directory: Path, forget: NoteSet, forget_class: str, train: NoteSet) -> None:
    """``forget-notes.json`` of a run, written owner-only into its (staging) directory."""
    record = {"schema": SCHEMA, "forget_class": forget_class, "train_sha256": train.sha256,
              "forget_sha256": forget.sha256, "note_sha256": [note_digest(t).hex() for t in forget.texts]}
    path = Path(directory) / INDEX_FILE
    tmp = path.with_name(f".{INDEX_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as f:
        json.dump(record, f)
    os.replace(tmp, path)


def run_directory(run: str | Path) -> Path:
    """A run's directory from its path or its id (looked up in the data directory's runs/)."""
    p = Path(run).expanduser()
    return p.resolve() if p.is_absolute() or len(p.parts) > 1 or p.exists() else runs_dir() / p.name


def read_forget_index(run: str | Path) -> dict:
    """The run's forget-note index; a run without one (not finished, or made before runs kept it) is refused."""
    directory = run_directory(run)
    if not (directory / "results.json").is_file():
        raise ConfigError(f"--forget-from-run: '{run}' is not a finished run's directory or id.",
                          hint="Name a directory that holds results.json (python -m steu_core runs lists them).")
    try:
        record = json.loads((directory / INDEX_FILE).read_text())
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA or not record.get("note_sha256"):
        raise DataError(f"run '{directory.name}' kept no hashes of its forget notes (runs keep them since this "
                        "version), so its forget set cannot be found again.",
                        hint="Give the forget file again (--forget, or --forget-ids with the ids file).")
    return record


def forget_from_run(run: str | Path, train: NoteSet, forget_class: str) -> NoteSet:
    """The training notes whose hashes the run kept, in the run's order, with their training labels."""
    record = read_forget_index(run)
    name = run_directory(run).name
    if record.get("forget_class") != forget_class:
        raise ConfigError(f"--forget-from-run: run '{name}' forgot another class than '{forget_class}'.",
                          hint="Give --forget-class as that run did, or name a run of this class.")
    position: dict[str, int] = {}
    for i, text in enumerate(train.texts):
        position.setdefault(note_digest(text).hex(), i)
    wanted = record["note_sha256"]
    missing = sum(1 for h in wanted if h not in position)
    if missing:
        raise DataError(f"{missing} of the {len(wanted)} forget notes of run '{name}' are not in the training file "
                        f"{train.name}", file=train.name,
                        hint="Give --train the training file that run used, or give the forget file again.")
    return train.subset([position[h] for h in wanted], name=f"{train.name} [the forget notes of run {name}]")


def forget_source_of_run(run: str | Path, forget: NoteSet) -> dict:
    """What the run's evidence says of a forget set found again: which run, how many notes, and whether the
    notes found are byte for byte the run's (the same content hash)."""
    record = read_forget_index(run)
    return {"given_by": "run", "run": run_directory(run).name, "notes": len(forget),
            "same_content_as_run": forget.sha256 == record.get("forget_sha256")}
