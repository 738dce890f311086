"""NoteSet: labelled clinical notes read from CSV, JSONL or Parquet, validated, hashed.

Every problem with a file becomes a :class:`~steu_core.errors.DataError` naming the file, the row
(1-based data row, header not counted) and the column, and saying what to do about it. Note text is
never put into an error message.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import DataError

TEXT_COLUMN_CANDIDATES = ("text", "note", "note_text", "notes", "clinical_note", "document",
                          "medical_abstract", "abstract", "body", "content", "report", "sentence")
LABEL_COLUMN_CANDIDATES = ("label", "labels", "class", "category", "diagnosis", "target",
                           "condition_label", "y")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}
_BINARY_MAGIC = {b"PK\x03\x04": "a ZIP archive (or .xlsx/.docx)", b"%PDF": "a PDF document",
                 b"\x1f\x8b": "a gzip archive", b"PAR1": "a Parquet file",
                 b"\xd0\xcf\x11\xe0": "an old Microsoft Office document", b"SQLite format 3": "a SQLite database"}
DEFAULT_MAX_FILE_MB = 200


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


def _pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str,
                 file: str, flag: str) -> str:
    if wanted:
        if wanted in columns:
            return wanted
        raise DataError(f"has no {role} column '{wanted}'", file=file, column=wanted,
                        hint=f"Columns found: {', '.join(map(str, columns)) or '(none)'}. "
                             f"Name the right one with {flag}.")
    lower = {str(c).strip().lower(): c for c in columns}
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    hint = (f"Columns found: {', '.join(map(str, columns)) or '(none)'}. Name the {role} column with {flag}.")
    if len(columns) == 1 and any(sep in str(columns[0]) for sep in (";", "\t", "|")):
        hint = (f"Only one column was found ('{str(columns[0])[:60]}'): the file seems to be separated by "
                "';', tab or '|' rather than commas. Save it as comma-separated CSV (or .tsv for tabs).")
    raise DataError(f"no {role} column found", file=file, hint=hint)


def _read_frame(path: Path, fmt: str, max_mb: float) -> pd.DataFrame:
    name = path.name
    if not path.exists():
        raise DataError("file not found", file=str(path), hint="Check the path and try again.")
    if path.is_dir():
        raise DataError("is a directory, not a file", file=str(path), hint="Give the path of the data file.")
    size = path.stat().st_size
    if size == 0:
        raise DataError("the file is empty", file=name, hint="Export the notes again; the file has no bytes.")
    if size > max_mb * 1024 * 1024:
        raise DataError(f"the file is {size / 1e6:.0f} MB, over the {max_mb:.0f} MB limit", file=name,
                        hint="Split it, or raise the limit (max_file_mb / --max-file-mb).")
    raw = path.read_bytes()
    if fmt == "parquet":
        try:
            return pd.read_parquet(io.BytesIO(raw))
        except Exception as exc:  # pyarrow raises several types
            raise DataError(f"cannot be read as Parquet ({type(exc).__name__})", file=name,
                            hint="Check that it is a valid Parquet file, or save it as CSV.") from None
    for magic, what in _BINARY_MAGIC.items():
        if raw.startswith(magic):
            raise DataError(f"is {what}, not a {fmt.upper()} text file", file=name,
                            hint="Export the notes as plain CSV, JSONL or Parquet.")
    if b"\x00" in raw[:8192]:
        raise DataError("contains binary data (NUL bytes)", file=name,
                        hint="Export the notes as plain UTF-8 text (CSV or JSONL).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"is not valid UTF-8 (byte {exc.start}, line {line})", file=name,
                        hint="Re-save the file with UTF-8 encoding (in Excel: 'CSV UTF-8').") from None
    if not text.strip():
        raise DataError("the file holds only whitespace", file=name, hint="Export the notes again.")
    if fmt == "jsonl":
        records = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise DataError("is not a JSON object", file=name, row=lineno,
                                hint="Each line of a .jsonl file must be one JSON object.") from None
            if not isinstance(rec, dict):
                raise DataError("is not a JSON object", file=name, row=lineno,
                                hint="Each line of a .jsonl file must be one JSON object like {\"text\": ..., \"label\": ...}.")
            records.append(rec)
        return pd.DataFrame.from_records(records)
    try:
        return pd.read_csv(io.StringIO(text), sep="\t" if fmt == "tsv" else ",", dtype=str,
                           keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise DataError("has no header and no rows", file=name, hint="Export the notes again.") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"is not well-formed {fmt.upper()} ({str(exc).splitlines()[0][:120]})", file=name,
                        hint="Check quoting: a note containing commas or line breaks must be in double quotes.") from None


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


def load_notes(path: str | Path, *, text_column: str | None = None, label_column: str | None = None,
               fmt: str | None = None, require_labels: bool = True,
               max_file_mb: float = DEFAULT_MAX_FILE_MB) -> NoteSet:
    """Read and validate a file of labelled notes.

    Column names are detected from common names unless given. Raises DataError for a missing or empty
    file, an unknown format, undecodable bytes, a missing column, an empty text or a missing label.
    """
    path = Path(path)
    fmt = _detect_format(path, fmt)
    df = _read_frame(path, fmt, max_file_mb)
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
            shown = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
            raise DataError(f"label '{label[:60]}' is not one of the model's labels", file=notes.name,
                            row=notes.row_numbers[i], column=notes.label_column,
                            hint=f"The model knows: {shown}. Fix the label or use the matching model.")


def check_forget_set(forget: NoteSet, forget_class: str, min_examples: int) -> None:
    """A forget set holds only the forget class and at least ``min_examples`` notes."""
    for i, label in enumerate(forget.labels):
        if label != forget_class:
            raise DataError(f"the forget set contains a note of class '{label[:60]}', not the forget class "
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


def write_notes(notes: NoteSet, path: str | Path) -> Path:
    """Write a NoteSet as CSV/JSONL/Parquet by extension (used for splits and tests)."""
    path = Path(path)
    df = pd.DataFrame({"text": list(notes.texts), "label": list(notes.labels)})
    fmt = FORMATS.get(path.suffix.lower())
    if fmt == "parquet":
        df.to_parquet(path, index=False)
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True, force_ascii=False)
    elif fmt in ("csv", "tsv"):
        df.to_csv(path, index=False, sep="\t" if fmt == "tsv" else ",")
    else:
        raise DataError(f"unknown file type '{path.suffix}'", file=path.name, hint="Use .csv, .tsv, .jsonl or .parquet.")
    return path
