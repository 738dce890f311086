"""Files the user names for output (report PDF, HTML, JSON, checkpoint): checked before any work and written
so that nothing is destroyed and nothing half-written appears.

The rule, for every such file: the path must be new or an existing *regular* file (a folder, a device such as
/dev/null, a FIFO, a socket, a symbolic link and a path under a file are refused: renaming onto them replaces
the node or fails late); an existing file is replaced only when overwriting was asked for; the bytes go to a
temporary file in the target's own folder (a rename never crosses disks) that takes the name at the end and is
removed on every failure. Model and patch outputs are new directories, made the same way
(``model.saving.save_model_atomically``, ``cli.patch.write_patched_model``).
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import ConfigError
from .paths import check_writable_location


def check_output_file(out: str | Path, flag: str, overwrite: bool = False) -> Path:
    """``out`` as a path a file may be written to (see the module docstring), or a ConfigError naming ``flag``."""
    out = Path(out).expanduser()
    if out.is_symlink():
        raise ConfigError(f"{flag} '{out}' is a symbolic link; an output is written only to a regular file.",
                          hint=f"Give {flag} the real file name, or a new one.")
    try:
        mode = out.stat().st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        mode = None  # a path under a file: check_writable_location names the file
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{flag} '{out}' is an existing folder.", hint=f"Give {flag} a file name.")
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{flag} '{out}' is not a regular file (a device, a FIFO or a socket); an output is "
                              "written only to a regular file.", hint=f"Give {flag} a new file name.")
        if not overwrite:
            raise ConfigError(f"{flag} '{out}' already exists; an output is never overwritten silently.",
                              hint="Choose another name, or pass --overwrite to replace it.")
    check_writable_location(out, flag)
    return out


def write_output(out: str | Path, data: bytes, flag: str, overwrite: bool = False) -> Path:
    """Write ``data`` to ``out`` under the rule above (checked again: the path may have changed meanwhile)."""
    out = check_output_file(out, flag, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        tmp.write_bytes(data)
        place(tmp, out, flag, overwrite)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def place(tmp: Path, out: Path, flag: str, overwrite: bool) -> None:
    """Give the written temporary file its name: over the existing file only with ``overwrite``; otherwise by a
    hard link, which fails rather than clobber a file another process wrote meanwhile."""
    if overwrite:
        os.replace(tmp, out)
        return
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise ConfigError(f"{flag} '{out}' was written by another process meanwhile; it was left as it is.",
                          hint="Choose another name, or pass --overwrite to replace it.") from None
