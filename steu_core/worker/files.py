"""The worker's files in the data directory: launch records (``worker/<id>.json``) and logs
(``logs/<id>.log``). A run and a comparison share both folders; their ids never collide (a run id
starts ``run-``, a comparison's ``cmp-``)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ..model import write_json_atomic
from ..paths import subdir


def launch_dir() -> Path:
    return subdir("worker")


def logs_dir() -> Path:
    return subdir("logs")


def launch_file(job_id: str) -> Path:
    return launch_dir() / f"{job_id}.json"


def read_launch(job_id: str) -> dict | None:
    try:
        return json.loads(launch_file(job_id).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_launch(job_id: str, record: dict) -> None:
    write_json_atomic(launch_file(job_id), record)


def log_path(job_id: str) -> Path:
    return logs_dir() / f"{job_id}.log"


def error_line(job_id: str) -> str:
    """The last user-facing error line the worker printed (the CLI prints ``error: ...``)."""
    path = log_path(job_id)
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 8192))
            tail = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    for line in reversed(tail):
        line = line.strip()
        if line.startswith("error: "):
            return line[len("error: "):]
        if line.startswith("internal error: "):
            return line
    return ""


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
