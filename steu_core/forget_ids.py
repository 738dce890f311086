"""A forget set given by reference: the ids of training notes instead of their text, and the columns of
a notes file (text, label, id) detected for a column picker.

A real deletion request names records, not re-typed text. An ids file holds one column of note ids
(CSV / TSV / JSONL / Parquet with a header line, or ``.txt`` with one id per line); each id must name
exactly one row of the training file's id column, and the forget set is those training notes, with
their labels. Ids are record numbers, not note text, so an error may show a few of them.

Ids are compared as text, spaces trimmed, with a whole number written as a float (Parquet's 12.0) read as
12: "003" is not "3" (an error names the pair). Duplicate ids in the ids file are dropped with a warning
that counts the ids named more than once (a record named twice is still one record to forget); an id that
is not in the training file is an error that lists how many and the first few; a training note with an
empty id is an error.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .data import (DEFAULT_MAX_FILE_MB, FORMATS, LABEL_COLUMN_CANDIDATES, TEXT_COLUMN_CANDIDATES, NoteSet,
                   load_notes)
from .errors import DataError
from .note_files import read_frame
from .safety import shown_value, shown_values

ID_COLUMN_CANDIDATES = ("id", "note_id", "noteid", "record_id", "row_id", "document_id", "doc_id", "uid",
                        "identifier", "record", "mrn")
_FILE_COLUMN_FLAG = re.compile(r"(?<![\w-])--(text|label)-column(?![\w-])")
ID_FILE_FORMATS = {**FORMATS, ".txt": "txt"}
SHOWN_IDS = 5  # unknown ids listed in an error
NO_LABEL_COLUMN = "-"  # a forget file's label column given as this: the file has none (--forget-label-column -)


@dataclass(frozen=True)
class IdList:
    """The ids an ids file names (first occurrence order, duplicates dropped) and where they came from."""

    name: str
    sha256: str
    column: str
    ids: tuple[str, ...]
    duplicates: int = 0

    def describe(self) -> dict:
        """What the run's evidence records: the file's name and hash, the column and the counts."""
        return {"name": self.name, "sha256": self.sha256, "column": self.column, "ids": len(self.ids),
                "duplicates_dropped": self.duplicates}


def detect_column(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    """The first column whose name (case and spaces ignored) is one of ``candidates``, else None."""
    lower = {str(c).strip().lower(): c for c in columns}
    return next((lower[c] for c in candidates if c in lower), None)


def file_columns(path: str | Path, max_file_mb: float = DEFAULT_MAX_FILE_MB) -> list[str]:
    """The column names of a notes or ids file (a ``.txt`` ids file has none). Raises DataError."""
    path = Path(path)
    fmt = ID_FILE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"unknown file type '{path.suffix or '(no extension)'}'", file=path.name,
                        hint="Save it as .csv, .tsv, .jsonl, .parquet (or .txt for a list of ids).")
    if fmt == "txt":
        return []
    return [str(c) for c in read_frame(path, fmt, max_file_mb).columns]


def guess_columns(columns: list[str]) -> dict[str, str | None]:
    """The detected text, label and id columns (None where no column has a usual name)."""
    return {"text": detect_column(columns, TEXT_COLUMN_CANDIDATES),
            "label": detect_column(columns, LABEL_COLUMN_CANDIDATES),
            "id": detect_column(columns, ID_COLUMN_CANDIDATES)}


def read_ids(path: str | Path, id_column: str | None = None, max_file_mb: float = DEFAULT_MAX_FILE_MB) -> IdList:
    """The ids listed in ``path``: the column named ``id_column``, else the file's only column."""
    path = Path(path)
    columns = file_columns(path, max_file_mb)  # also refuses a missing, unknown, binary or too large file
    raw = path.read_bytes()
    if columns:
        frame = read_frame(path, ID_FILE_FORMATS[path.suffix.lower()], max_file_mb)
        frame.columns = columns
        column = _ids_column(columns, id_column, path.name)
        values = ["" if v is None else str(v) for v in frame[column].tolist()]
    elif len(raw) > max_file_mb * 1024 * 1024:
        raise DataError(f"the file is over the {max_file_mb:g} MB limit", file=path.name,
                        hint="Split the list of ids, or raise the limit (--max-file-mb).")
    else:
        values, column = raw.decode("utf-8-sig", errors="replace").splitlines(), "(one id per line)"
    cleaned = [v for v in (_as_id(v) for v in values) if v]
    ids = tuple(dict.fromkeys(cleaned))
    if not ids:
        raise DataError("lists no ids", file=path.name,
                        hint="Give one note id per row, as in the id column of the training file.")
    return IdList(name=path.name, sha256=hashlib.sha256(raw).hexdigest(), column=column, ids=ids,
                  duplicates=sum(1 for n in Counter(cleaned).values() if n > 1))  # ids, not extra lines


def _as_id(value: str) -> str:
    """An id as text: spaces trimmed, and a whole float (Parquet/JSONL 12.0) written as 12."""
    s = str(value).strip()
    if s.endswith(".0") and s[:-2].lstrip("-").isdigit():
        return s[:-2]
    return s if s.lower() not in ("nan", "none") else ""


def _ids_column(columns: list[str], wanted: str | None, name: str) -> str:
    if wanted and wanted in columns:
        return wanted
    if len(columns) == 1:
        return columns[0]
    found = detect_column(columns, ID_COLUMN_CANDIDATES)
    if found:
        return found
    raise DataError(f"has {len(columns)} columns ({shown_values(columns)}) and none is the id column",
                    file=name, hint="Give a file with one column of note ids, or name its id column like the "
                                    "training file's (--id-column).")


def training_ids(train: NoteSet, path: str | Path, id_column: str | None,
                 max_file_mb: float = DEFAULT_MAX_FILE_MB) -> tuple[str, list[str]]:
    """(id column, id of each training note in row order); every id names one note only."""
    path = Path(path)
    frame = read_frame(path, FORMATS.get(path.suffix.lower(), "csv"), max_file_mb)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    column = id_column if id_column in columns else None
    if id_column and column is None:
        raise DataError(f"has no id column '{id_column}'", file=path.name, column=id_column,
                        hint=f"Columns found: {shown_values(columns)}. Name the right one with --id-column.")
    column = column or detect_column(columns, ID_COLUMN_CANDIDATES)
    if column is None:
        raise DataError("no id column found: the forget set is given by ids, and they must name the training "
                        "notes", file=path.name, hint=f"Columns found: {shown_values(columns)}. Name the id "
                                                      "column with --id-column.")
    ids = [_as_id(v) for v in frame[column].tolist()]
    if len(ids) != len(train):
        raise DataError("the id column does not line up with the notes", file=path.name, column=column,
                        hint="Export the training notes again, one note per row.")
    _check_no_empty(ids, train, path.name, column)
    _check_unique(ids, path.name, column)
    return column, ids


def _check_no_empty(ids: list[str], train: NoteSet, name: str, column: str) -> None:
    """Every training note has an id: a note without one could be named by no request."""
    empty = [row for row, value in zip(train.row_numbers, ids) if not value]
    if empty:
        rows = ", ".join(str(r) for r in empty[:SHOWN_IDS]) + (f" and {len(empty) - SHOWN_IDS} more"
                                                              if len(empty) > SHOWN_IDS else "")
        raise DataError(f"{len(empty)} training note(s) have an empty id (note row(s) {rows})", file=name,
                        column=column, hint="Give every training note its id, or give the forget notes' text "
                                            "(--forget) instead of their ids.")


def _check_unique(ids: list[str], name: str, column: str) -> None:
    seen: dict[str, int] = {}
    for row, value in enumerate(ids, start=1):
        if value and value in seen:
            raise DataError(f"id {shown_value(value)} names two notes (rows {seen[value]} and {row}): an id "
                            "column names each note once", file=name, column=column,
                            hint="Choose the column that holds one id per note (--id-column).")
        seen.setdefault(value, row)


def forget_by_ids(train: NoteSet, ids_of_train: list[str], wanted: IdList) -> NoteSet:
    """The training notes the ids name, in training-file order, with their labels. An id that names
    no training note is an error that says how many and shows the first few."""
    row_of = {v: i for i, v in enumerate(ids_of_train) if v}
    if wanted.column in row_of:  # a header line would have been read as the first id otherwise
        raise DataError(f"the first line {shown_value(wanted.column)} is an id of the training file, so the file "
                        "has no header line and that id would be lost", file=wanted.name,
                        hint="Add a header line naming the column (e.g. 'note_id'), or save the ids as .txt "
                             "with one id per line.")
    unknown = [v for v in wanted.ids if v not in row_of]
    if unknown:
        shown = ", ".join(shown_value(v) for v in unknown[:SHOWN_IDS])
        more = f" and {len(unknown) - SHOWN_IDS} more" if len(unknown) > SHOWN_IDS else ""
        raise DataError(f"{len(unknown)} of {len(wanted.ids)} id(s) are not in the training file {train.name}: "
                        f"{shown}{more}{_near_miss(unknown, row_of)}", file=wanted.name, column=wanted.column,
                        hint="Check the ids against the training file's id column (--id-column), and that "
                             "the training file is the one the model was trained on.")
    rows = sorted(row_of[v] for v in wanted.ids)
    return train.subset(rows, name=f"{train.name} [ids from {wanted.name}]")


def _near_miss(unknown: list[str], known: dict[str, int]) -> str:
    """Ids are compared as text, trimmed (a whole number 3.0 read as 3): an unknown id that equals a training
    id but for leading zeros is named, with how the two files write it."""
    by_digits = {v.lstrip("0") or "0": v for v in known if v.isdigit()}
    for v in unknown:
        other = by_digits.get(v.lstrip("0") or "0") if v.isdigit() else None
        if other is not None:
            return (f". Ids are compared as text: {shown_value(v)} in the ids file is not {shown_value(other)} of "
                    "the training file (leading zeros differ)")
    return ""


def forget_notes_of_class(path: str | Path, forget_class: str, *, text_column: str | None = None,
                          max_file_mb: float = DEFAULT_MAX_FILE_MB) -> NoteSet:
    """A forget file with no label column: every note is of ``forget_class`` (the class the request
    names); its content hash counts that label as if the file had said it."""
    notes = load_notes(path, text_column=text_column, require_labels=False, max_file_mb=max_file_mb)
    return NoteSet(texts=notes.texts, labels=(forget_class,) * len(notes), name=notes.name,
                   text_column=notes.text_column, label_column="", duplicate_rows=notes.duplicate_rows)


def read_forget_notes(path: str | Path, forget_class: str, *, text_column: str | None = None,
                      label_column: str | None = None, max_file_mb: float = DEFAULT_MAX_FILE_MB) -> NoteSet:
    """A forget file's notes: with their labels, or all of ``forget_class`` when the file has no label
    column (or ``label_column`` is :data:`NO_LABEL_COLUMN`)."""
    try:
        if label_column == NO_LABEL_COLUMN or not has_label_column(path, label_column, max_file_mb):
            return forget_notes_of_class(path, forget_class, text_column=text_column, max_file_mb=max_file_mb)
        return load_notes(path, text_column=text_column, label_column=label_column, max_file_mb=max_file_mb)
    except DataError as exc:  # load_notes names the options of every file; the forget file has its own
        exc.hint = _FILE_COLUMN_FLAG.sub(r"--forget-\1-column", exc.hint) if exc.hint else exc.hint
        raise


def has_label_column(path: str | Path, label_column: str | None,
                     max_file_mb: float = DEFAULT_MAX_FILE_MB) -> bool:
    """Whether a notes file has a label column (the one named, else a detected one)."""
    if label_column:
        return True  # a named column that is missing is load_notes' error to report
    return detect_column(file_columns(path, max_file_mb), LABEL_COLUMN_CANDIDATES) is not None
