"""Writing a model directory, and JSON records, atomically: into a temporary sibling, then renamed
over the target, so a crash never leaves a half-written model or record in place."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConfigError
from .classifier import Classifier


def save_model_atomically(clf: Classifier, out_dir: str | Path, extra: Callable[[Path], None] | None = None) -> Path:
    """Write the model and tokenizer to a temporary sibling directory, then rename it into place; ``extra``
    writes further files (a training manifest) into the temporary directory first."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise ConfigError(f"output directory '{out_dir}' already exists.",
                          hint="Choose a new directory; existing models are never overwritten.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        write_model(clf, tmp)
        if extra is not None:
            extra(tmp)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def write_model(clf: Classifier, directory: Path) -> None:
    clf.model.save_pretrained(directory, safe_serialization=True)
    clf.tokenizer.save_pretrained(directory)
    for f in directory.iterdir():
        if f.is_file():
            _fsync(f)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default))
    os.replace(tmp, path)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
