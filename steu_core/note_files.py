"""Reading a notes file (CSV, TSV, JSONL or Parquet) into a DataFrame, refusing with a plain
:class:`~steu_core.errors.DataError` what is missing, too large, binary, not UTF-8 or malformed.
Which columns hold the text and the label is decided later, by :func:`steu_core.data.load_notes`."""
from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pandas as pd

from .errors import DataError
from .safety import read_bounded

_BINARY_MAGIC = {b"PK\x03\x04": "a ZIP archive (or .xlsx/.docx)", b"%PDF": "a PDF document",
                 b"\x1f\x8b": "a gzip archive", b"PAR1": "a Parquet file",
                 b"\xd0\xcf\x11\xe0": "an old Microsoft Office document", b"SQLite format 3": "a SQLite database"}
# UTF-32 first: its little-endian mark begins with UTF-16's
_WIDE_BOMS = ((b"\xff\xfe\x00\x00", "utf32"), (b"\x00\x00\xfe\xff", "utf32"), (b"\xff\xfe", "utf16"),
              (b"\xfe\xff", "utf16"))


def read_frame(path: Path, fmt: str, max_mb: float) -> pd.DataFrame:
    """The file as a DataFrame (CSV and TSV cells as strings); ``fmt`` is a value of ``data.FORMATS``."""
    raw = _read_bytes_within_limit(path, max_mb)
    if fmt == "parquet":
        return _parse_parquet(raw, path.name)
    text = _decode_text(raw, fmt, path.name)
    if fmt == "jsonl":
        return _parse_jsonl(text, path.name)
    return _parse_delimited(text, fmt, path.name)


def _read_bytes_within_limit(path: Path, max_mb: float) -> bytes:
    """The file's bytes; a missing, unreadable, special (FIFO, device), empty or too large file is a
    DataError. At most the limit + 1 bytes are read, whatever size the file reports."""
    name, limit = path.name, int(max_mb * 1024 * 1024)
    try:
        info = path.stat()
    except OSError:
        info = None  # missing, in an unreadable folder, a name too long: read_bounded says which
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise DataError("is a directory, not a file", file=str(path), hint="Give the path of the data file.")
    size = info.st_size if info is not None else 0
    raw = read_bounded(path, limit) if size <= limit else b""
    if size > limit or len(raw) > limit:
        shown = f"{size / 2**20:.3g} MB" if size > limit else f"over {max_mb:g} MB"
        raise DataError(f"the file is {shown}, over the {max_mb:g} MB limit", file=name,
                        hint="Split it, or raise the limit (max_file_mb / --max-file-mb).")
    if not raw:
        raise DataError("the file is empty", file=name, hint="Export the notes again; the file has no bytes.")
    return raw


def _parse_parquet(raw: bytes, name: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pyarrow raises several types
        raise DataError(f"cannot be read as Parquet ({type(exc).__name__})", file=name,
                        hint="Check that it is a valid Parquet file, or save it as CSV.") from None


def _decode_text(raw: bytes, fmt: str, name: str) -> str:
    """The bytes of a text format as a string; binary files, bad UTF-8 and blank files are refused.
    UTF-16 and UTF-32 with a byte-order mark (what Excel's "Unicode text" writes) are read too."""
    for magic, what in _BINARY_MAGIC.items():
        if raw.startswith(magic):
            raise DataError(f"is {what}, not a {fmt.upper()} text file", file=name,
                            hint="Export the notes as plain CSV, JSONL or Parquet.")
    wide = next((enc for bom, enc in _WIDE_BOMS if raw.startswith(bom)), None)
    text = _decode_wide(raw, wide, name) if wide else _decode_utf8(raw, name)
    if not text.strip():
        raise DataError("the file holds only whitespace", file=name, hint="Export the notes again.")
    return text


def _decode_wide(raw: bytes, encoding: str, name: str) -> str:
    label = encoding.upper().replace("UTF", "UTF-")
    try:
        text = raw.decode(encoding)  # the codec reads and drops the byte-order mark
    except UnicodeDecodeError as exc:
        raise DataError(f"starts with a {label} byte-order mark but is not valid {label} (byte {exc.start})",
                        file=name, hint=f"{label}: save as UTF-8 (in Excel: 'CSV UTF-8').") from None
    if "\x00" in text:
        raise DataError(f"contains NUL characters ({label} text)", file=name,
                        hint="Remove them, or export the notes again as plain UTF-8 text.")
    return text


def _decode_utf8(raw: bytes, name: str) -> str:
    head = raw[:8192]
    if b"\x00" in head:
        if _looks_like_utf16(head):
            raise DataError("looks like UTF-16 text without a byte-order mark", file=name,
                            hint="UTF-16: save as UTF-8 (in Excel: 'CSV UTF-8').")
        raise DataError("contains binary data (NUL bytes)", file=name,
                        hint="Export the notes as plain UTF-8 text (CSV or JSONL).")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"is not valid UTF-8 (byte {exc.start}, line {line})", file=name,
                        hint="Re-save the file with UTF-8 encoding (in Excel: 'CSV UTF-8').") from None


def _looks_like_utf16(head: bytes) -> bool:
    """Mostly-ASCII text in UTF-16 has a NUL in every other byte: odd ones (LE) or even ones (BE)."""
    pairs = len(head) // 2
    if pairs < 2:
        return False
    return max(head[1::2].count(0), head[0::2].count(0)) >= 0.8 * pairs


def _parse_jsonl(text: str, name: str) -> pd.DataFrame:
    records = []
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 is not a line end in JSONL
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):
            raise DataError("is not a JSON object", file=name, row=lineno,
                            hint="Each line of a .jsonl file must be one JSON object.") from None
        if not isinstance(rec, dict):
            raise DataError("is not a JSON object", file=name, row=lineno,
                            hint="Each line of a .jsonl file must be one JSON object like {\"text\": ..., \"label\": ...}.")
        records.append(rec)
    return pd.DataFrame.from_records(records)


def _parse_delimited(text: str, fmt: str, name: str) -> pd.DataFrame:
    """A CSV or TSV with a header line; every parser complaint becomes a DataError, never a traceback."""
    try:
        return _frame_with_header(text, fmt, name)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError("has no header and no rows", file=name, hint="Export the notes again.") from None
    except pd.errors.ParserError as exc:
        raise _malformed_delimited_error(text, fmt, name, exc) from None
    except Exception as exc:  # the parser's other complaints (limits, odd bytes): never a traceback
        raise DataError(f"cannot be parsed as {fmt.upper()} ({type(exc).__name__})", file=name,
                        hint="Export the notes again as plain UTF-8 CSV with a header line.") from None


def _frame_with_header(text: str, fmt: str, name: str) -> pd.DataFrame:
    # header=None: the header line is read as a row, so a data row with more fields than the header
    # (an unquoted comma in a note) is a parser error instead of a silent index column.
    df = pd.read_csv(io.StringIO(text), sep="\t" if fmt == "tsv" else ",", dtype=str, header=None,
                     keep_default_na=False, na_filter=False)
    header = [str(c).strip() or f"unnamed_{i + 1}" for i, c in enumerate(df.iloc[0].tolist())]
    repeated = [i for i, c in enumerate(header, start=1) if header.count(c) > 1]
    if repeated:  # by position: the header line may be a note (a file without one)
        raise DataError(f"the header names a column more than once (columns {', '.join(map(str, repeated))})",
                        file=name, hint="Give every column its own name in the first line.")
    df = df.iloc[1:].reset_index(drop=True)
    df.columns = header
    return df


def _malformed_delimited_error(text: str, fmt: str, name: str, exc: Exception) -> DataError:
    """Say the file uses another separator when its header line suggests so, else that it is malformed."""
    first = text.split("\n", 1)[0]
    sep = "," if fmt == "csv" else "\t"
    if sep not in first and any(other in first for other in (";", "\t", "|") if other != sep):
        return DataError("the header line has no "
                         f"{'commas' if sep == ',' else 'tabs'}: the file seems to be separated by "
                         "';', tab or '|'", file=name,
                         hint="Save it as comma-separated CSV (or .tsv for tabs).")
    return DataError(f"is not well-formed {fmt.upper()} ({str(exc).splitlines()[0][:120]})", file=name,
                     hint="Check quoting: a note containing commas or line breaks must be in double quotes.")
