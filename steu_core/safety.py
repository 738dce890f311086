"""Small guards for values that come from user files: what may be shown in a message, and how a
cell is written to a CSV that a spreadsheet will open.

* :func:`shown_value` - a value from a data file (a label, a column name) is repeated in an error
  message only when it looks like a short name; anything longer or sentence-like may be note text
  (PHI) and is described by its length instead.
* :func:`shown_if_known` - a value from a file (a column name, a label) that the tool or the model does
  not already know is never repeated, however harmless it looks: in a file without a header line the
  "column names" are the first note ("Jane Doe MRN 4471"). Its position and length are given instead.
* :func:`csv_safe_cell` - a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return
  is a formula to Excel/LibreOffice ("CSV injection"); it is written with a leading apostrophe so
  the spreadsheet shows it as text (plain numbers such as ``-0.25`` excepted). Every CSV the tool
  writes goes through it (:func:`csv_safe_row` for ``csv.writer`` rows).
* :func:`html_text` - text for an HTML context (reports, the dashboard's unsafe-HTML blocks).
* :func:`open_regular` / :func:`read_bounded` / :func:`check_readable` - a file the user names is
  opened without blocking and used only when it is a regular file (a FIFO named ``notes.csv``
  would wait forever, a link to ``/dev/zero`` never ends), and read at most to a limit, whatever
  size it reports.
"""
from __future__ import annotations

import errno
import html
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterable

from .errors import DataError

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NAME_RE = re.compile(r"^[\w .,:/()#&+'-]{1,40}$")


def shown_value(value: Any, max_len: int = 40, max_words: int = 4) -> str:
    """``'value'`` when it looks like a label or column name, else a neutral description.

    A value longer than ``max_len`` characters, with more than ``max_words`` words, or with line
    breaks or unusual characters is not repeated: it may be a piece of a clinical note.
    """
    s = str(value)
    if _NAME_RE.match(s) and len(s.split()) <= max_words:
        return f"'{s}'"
    return f"a {len(s)}-character value (not shown: it may be note text)"


def shown_if_known(value: Any, known: Iterable[str], where: str = "") -> str:
    """``'value'`` when it is one of ``known`` (names the tool or the model already holds, so the message
    reveals nothing from the file), else ``where`` and its length: "column 1 (17 characters, not shown)"."""
    s = str(value)
    if s in set(known):
        return f"'{s}'"
    return f"{where or 'a value'} ({len(s)} characters, not shown)"


def shown_values(values: Iterable[Any], limit: int = 12) -> str:
    vals = list(values)
    shown = [shown_value(v) for v in vals[:limit]]
    if len(vals) > limit:
        shown.append(f"... ({len(vals) - limit} more)")
    return ", ".join(shown) or "(none)"


_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def csv_safe_cell(value: Any) -> Any:
    """A cell value that a spreadsheet will not evaluate as a formula (strings only; others as is).

    A string that is just a number ("-0.25", "+3e-4") stays as it is: it cannot be a formula, and a
    spreadsheet should still read it as a number.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def csv_safe_row(row: Iterable[Any]) -> list[Any]:
    """``csv.writer(f).writerow(csv_safe_row(values))``: every cell passed through csv_safe_cell."""
    return [csv_safe_cell(v) for v in row]


def csv_safe_frame(df):
    """A copy of a pandas DataFrame with every string cell (and column name) passed through csv_safe_cell."""
    out = df.copy()
    out.columns = [csv_safe_cell(str(c)) for c in out.columns]
    for col in out.columns:
        out[col] = out[col].map(csv_safe_cell)  # non-string cells pass through unchanged
    return out


def html_text(value: Any) -> str:
    """Escape text for HTML (quotes too), so a note or token like ``<script>`` is shown, never run."""
    return html.escape(str(value), quote=True)


_SPECIAL_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                  (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                  (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words ("a regular file", "a named pipe (FIFO)" ...)."""
    return next((words for test, words in _SPECIAL_KINDS if test(mode)), "a regular file")


def _open_error(exc: OSError, path: Path) -> DataError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DataError("cannot be read: permission denied", file=str(path),
                         hint="Give the user running STEU Audit read access to it (e.g. chmod u+r), or copy it "
                              "somewhere readable.")
    if exc.errno == errno.ENOENT:
        return DataError("file not found", file=str(path), hint="Check the path and try again.")
    return DataError(f"cannot be opened ({exc.strerror or type(exc).__name__})", file=str(path),
                     hint="Check the path and that you may read the file.")


def open_regular(path: str | Path) -> int:
    """A read-only descriptor of ``path`` (links followed), which must be a regular file.

    Opened with O_NONBLOCK so that a FIFO cannot make the open wait for a writer; the type is then
    checked on the open descriptor itself, so the file cannot be swapped between check and read.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _open_error(exc, path) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = file_kind(mode)
        hint = ("Give the path of the file itself." if kind == "a directory" else
                "Only a regular file on disk is read: copy the data into a file and give its path.")
        raise DataError(f"is {kind}, not a regular file", file=str(path), hint=hint)
    return fd


def check_readable(path: str | Path) -> None:
    """Refuse ``path`` unless it is a regular file this process may read (nothing is read)."""
    os.close(open_regular(path))


def read_bounded(path: str | Path, limit_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit_bytes + 1`` of them read: the caller
    refuses a result longer than ``limit_bytes`` (the reported size is not trusted: /proc files
    report 0)."""
    fd = open_regular(path)
    chunks, left = [], limit_bytes + 1
    try:
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise DataError(f"cannot be read ({exc.strerror or type(exc).__name__})", file=str(path),
                        hint="Check that the file is intact and that you may read it.") from None
    finally:
        os.close(fd)
    return b"".join(chunks)
