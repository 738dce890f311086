"""NoteSet: labelled clinical notes read from CSV, JSONL or Parquet, validated, hashed.

Every problem with a file becomes a :class:`~steu_core.errors.DataError` naming the file, the row
(1-based data row, header not counted) and the column, and saying what to do about it. Note text is
never put into an error message.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import DataError
from .note_files import read_frame
from .safety import csv_safe_frame, shown_if_known, shown_values

TEXT_COLUMN_CANDIDATES = ("text", "note", "note_text", "notes", "clinical_note", "document",
                          "medical_abstract", "abstract", "body", "content", "report", "sentence")
LABEL_COLUMN_CANDIDATES = ("label", "labels", "class", "category", "diagnosis", "target",
                           "condition_label", "y")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}
DEFAULT_MAX_FILE_MB = 200


def same_note_key(text: str) -> str:
    """A note's text as notes are matched across files (a forget note found in the training file, a note
    in two sets): line endings normalised (CRLF and CR become LF), since a file saved on another system
    holds the same note with other line breaks. Content hashes (:func:`content_sha256`) stay exact: they key
    the score cache, and a byte-level tokenizer encodes the line endings differently."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def note_digest(text: str) -> bytes:
    """The SHA-256 by which notes are matched across files (:func:`same_note_key`)."""
    return hashlib.sha256(same_note_key(text).encode("utf-8", "surrogatepass")).digest()


def content_sha256(texts: Sequence[str], labels: Sequence[str]) -> str:
    """SHA-256 of the (text, label) pairs in order: the same for a CSV and a Parquet of the same rows."""
    h = hashlib.sha256()
    for text, label in zip(texts, labels):
        h.update(json.dumps([text, label], ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


@dataclass(frozen=True)
class NoteSet:
    """Notes and their labels (label values as strings), with where they came from."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    name: str
    text_column: str = "text"
    label_column: str = "label"
    sha256: str = ""
    duplicate_rows: int = 0
    row_numbers: tuple[int, ...] = field(default=(), repr=False)

    def __post_init__(self):
        if len(self.texts) != len(self.labels):
            raise ValueError("texts and labels differ in length")
        if not self.sha256:
            object.__setattr__(self, "sha256", content_sha256(self.texts, self.labels))
        if not self.row_numbers:
            object.__setattr__(self, "row_numbers", tuple(range(1, len(self.texts) + 1)))

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def label_counts(self) -> dict[str, int]:
        values, counts = np.unique(np.asarray(self.labels, dtype=object), return_counts=True)
        return {str(v): int(c) for v, c in zip(values, counts)}

    def subset(self, indices: Iterable[int], name: str | None = None) -> "NoteSet":
        idx = list(indices)
        return NoteSet(texts=tuple(self.texts[i] for i in idx), labels=tuple(self.labels[i] for i in idx),
                       name=name or self.name, text_column=self.text_column, label_column=self.label_column,
                       row_numbers=tuple(self.row_numbers[i] for i in idx))

    def where_label(self, label: str, equal: bool = True, name: str | None = None) -> "NoteSet":
        return self.subset([i for i, y in enumerate(self.labels) if (y == label) == equal], name=name)

    def describe(self) -> dict:
        """Counts and hash only: safe to log, store and report (no text)."""
        return {"name": self.name, "rows": len(self), "sha256": self.sha256, "labels": self.label_counts,
                "duplicate_rows": self.duplicate_rows}


def _detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise DataError(f"unknown format '{fmt}'", file=path.name,
                            hint=f"Use one of: {', '.join(sorted(set(FORMATS.values())))}.")
        return fmt
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise DataError(f"unknown file type '{ext or '(no extension)'}'", file=path.name,
                        hint="Save the notes as .csv, .tsv, .jsonl or .parquet.")
    return FORMATS[ext]


def columns_found(columns: list[str], given: str | None = None) -> str:
    """The columns as a message names them: known names (text, label ... or the one given) in quotes, the
    others by position and length only (in a file without a header line they are the first note)."""
    known = {c for c in columns if c.strip().lower() in TEXT_COLUMN_CANDIDATES + LABEL_COLUMN_CANDIDATES}
    known |= {given} if given else set()
    return ", ".join(shown_if_known(c, known, f"column {i}") for i, c in enumerate(columns, start=1))


def _pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str,
                 file: str, flag: str) -> str:
    if wanted:
        if wanted in columns:
            return wanted
        raise DataError(f"has no {role} column '{wanted}'", file=file, column=wanted,
                        hint=f"Columns found: {columns_found(columns, wanted)}. Name the right one with {flag}.")
    lower = {str(c).strip().lower(): c for c in columns}
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    # Column names are repeated only when the tool knows them: in a file without a header line the
    # "column names" are the first note, which must never appear in a message.
    hint = (f"Columns found: {columns_found(columns)}. Name the {role} column with {flag}; if the first line "
            "does not look like a header (a line of column names such as 'text,label'), add one.")
    if len(columns) == 1 and any(sep in str(columns[0]) for sep in (";", "\t", "|")):
        hint = ("Only one column was found: the file seems to be separated by ';', tab or '|' rather than "
                "commas. Save it as comma-separated CSV (or .tsv for tabs).")
    raise DataError(f"no {role} column found", file=file, hint=hint)


def _as_label(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if np.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (dict, list)):
        return None
    s = str(value).strip()
    return s or None


def _label_kind(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true/false value"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _check_label_types(values: list, file: str, column: str) -> None:
    """A typed file (JSONL, Parquet) whose labels mix numbers and text is refused: 1 and "1" would
    silently become the same class, and a model's label names are one kind or the other."""
    first: dict[str, int] = {}
    for i, value in enumerate(values, start=1):
        kind = _label_kind(value)
        if kind is not None and kind not in first:
            first[kind] = i
    if len(first) > 1:
        kinds = ", ".join(f"{k} (first at row {r})" for k, r in sorted(first.items(), key=lambda kv: kv[1]))
        raise DataError(f"the labels mix value types: {kinds}", file=file, column=column,
                        hint="Write every label the same way - all as names (\"cardiac\") or all as "
                             "numbers - matching the model's label names.")


def load_notes(path: str | Path, *, text_column: str | None = None, label_column: str | None = None,
               fmt: str | None = None, require_labels: bool = True,
               max_file_mb: float = DEFAULT_MAX_FILE_MB) -> NoteSet:
    """Read and validate a file of labelled notes.

    Column names are detected from common names unless given. Raises DataError for a missing or empty
    file, an unknown format, undecodable bytes, a missing column, an empty text or a missing label.
    """
    path = Path(path)
    fmt = _detect_format(path, fmt)
    df = read_frame(path, fmt, max_file_mb)
    name = path.name
    if df.shape[1] == 0:
        raise DataError("has no columns", file=name, hint="The first line must be a header such as 'text,label'.")
    columns = [str(c) for c in df.columns]
    df.columns = columns
    tcol = _pick_column(columns, text_column, TEXT_COLUMN_CANDIDATES, "text", name, "--text-column")
    lcol = None
    if require_labels:
        lcol = _pick_column(columns, label_column, LABEL_COLUMN_CANDIDATES, "label", name, "--label-column")
        if lcol == tcol:
            raise DataError("the text and label columns are the same column", file=name, column=tcol,
                            hint="Name two different columns with --text-column and --label-column.")
    if len(df) == 0:
        raise DataError("has a header but no rows", file=name, hint="The file must contain at least one note.")
    texts, labels = [], []
    for i, value in enumerate(df[tcol].tolist(), start=1):
        if not isinstance(value, str):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                value = ""
            else:
                raise DataError(f"the text is not a string (found {type(value).__name__})", file=name, row=i,
                                column=tcol, hint="Each note must be text.")
        if not value.strip():
            raise DataError("the note text is empty", file=name, row=i, column=tcol,
                            hint="Remove the row or fill in the note.")
        texts.append(value)
    if require_labels:
        _check_label_types(df[lcol].tolist(), name, lcol)
        for i, value in enumerate(df[lcol].tolist(), start=1):
            label = _as_label(value)
            if label is None:
                raise DataError("the label is missing", file=name, row=i, column=lcol,
                                hint="Every note needs a label; fill it in or remove the row.")
            labels.append(label)
    else:
        labels = [""] * len(texts)
    pairs = list(zip(texts, labels))
    duplicates = len(pairs) - len(set(pairs))
    return NoteSet(texts=tuple(texts), labels=tuple(labels), name=name, text_column=tcol,
                   label_column=lcol or "", duplicate_rows=duplicates)


def check_labels_known(notes: NoteSet, known: Sequence[str]) -> None:
    """Every label of ``notes`` must be one of the model's label names."""
    known_set = set(known)
    for i, label in enumerate(notes.labels):
        if label not in known_set:
            raise DataError(f"the label ({len(label)} characters, not shown) is not one of the model's labels",
                            file=notes.name, row=notes.row_numbers[i], column=notes.label_column,
                            hint=_unknown_label_hint(label, known))


def _unknown_label_hint(label: str, known: Sequence[str]) -> str:
    """What the model knows, and the model's own name when the file's label differs only in case or spaces."""
    shown = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
    near = [k for k in known if " ".join(str(k).split()).casefold() == " ".join(label.split()).casefold()]
    same = f"It differs from the model's label '{near[0]}' only in case or spaces. " if near else ""
    return f"{same}The model knows: {shown}. Fix the label or use the matching model."


def check_forget_set(forget: NoteSet, forget_class: str, min_examples: int) -> None:
    """A forget set holds only the forget class and at least ``min_examples`` notes."""
    if len(forget) and forget_class not in forget.labels:
        raise DataError(f"the forget set has no note of the forget class '{forget_class}' (its labels: "
                        f"{shown_values(sorted(set(forget.labels)))})", file=forget.name,
                        column=forget.label_column,
                        hint="Choose the forget class the file was made for (--forget-class), or give "
                             "the right forget-set file.")
    if len(forget) == 0:
        raise DataError(f"there is no note of the forget class '{forget_class}'", file=forget.name,
                        hint="Give a forget-set file (--forget) or a training file that holds notes of that class.")
    for i, label in enumerate(forget.labels):
        if label != forget_class:
            raise DataError(f"the forget set contains a note of class {shown_values([label])}, not the forget class "
                            f"'{forget_class}'", file=forget.name, row=forget.row_numbers[i],
                            column=forget.label_column,
                            hint="A forget set must hold only notes of the class being forgotten; remove "
                                 "the other rows or choose the right class.")
    if len(forget) < min_examples:
        raise DataError(f"the forget set has {len(forget)} note(s) of class '{forget_class}', fewer than the "
                        f"minimum of {min_examples}", file=forget.name,
                        hint="Add notes, or lower the minimum (--min-forget) if you accept a weaker audit.")


def stratified_split(notes: NoteSet, test_fraction: float, seed: int) -> tuple[NoteSet, NoteSet]:
    """Split into (train, test), stratified by label, deterministic for a seed."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(notes))
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=list(notes.labels))
    return notes.subset(sorted(tr), name=f"{notes.name}[train]"), notes.subset(sorted(te), name=f"{notes.name}[test]")


def find_overlap(a: NoteSet, b: NoteSet) -> list[tuple[int, int]]:
    """(row in a, row in b) for every note text of ``a`` that also occurs in ``b`` (exact text match, line
    endings normalised: :func:`same_note_key`).

    Row numbers only: the caller reports them without the text.
    """
    first_in_b: dict[str, int] = {}
    for text, row in zip(b.texts, b.row_numbers):
        first_in_b.setdefault(same_note_key(text), row)
    keys = (same_note_key(text) for text in a.texts)
    return [(row, first_in_b[key]) for key, row in zip(keys, a.row_numbers) if key in first_in_b]


def write_notes(notes: NoteSet, path: str | Path, *, formula_safe: bool = True) -> Path:
    """Write a NoteSet as CSV/JSONL/Parquet by extension (used for splits and tests).

    In a CSV/TSV a cell starting with = + - @ (or tab / carriage return) gets a leading apostrophe so
    a spreadsheet never evaluates it (``formula_safe``); such a CSV is for people, and its content
    hash then differs from the original's. JSONL and Parquet are written exactly.
    """
    path = Path(path)
    df = pd.DataFrame({"text": list(notes.texts), "label": list(notes.labels)})
    fmt = FORMATS.get(path.suffix.lower())
    if fmt == "parquet":
        df.to_parquet(path, index=False)
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True, force_ascii=False)
    elif fmt in ("csv", "tsv"):
        # every text cell quoted: pandas leaves a lone carriage return unquoted, which readers take as a line end
        (csv_safe_frame(df) if formula_safe else df).to_csv(path, index=False, sep="\t" if fmt == "tsv" else ",",
                                                            quoting=csv.QUOTE_NONNUMERIC)
    else:
        raise DataError(f"unknown file type '{path.suffix}'", file=path.name, hint="Use .csv, .tsv, .jsonl or .parquet.")
    return path
