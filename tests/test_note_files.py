"""Reading notes files (steu_core.note_files, through the public loader steu_core.data.load_notes):
special files are refused before reading, reads are bounded, UTF-16/32 with a byte-order mark are
read and without one named, and a property test that whatever file is given, the loader returns a
NoteSet or raises a DataError - never another exception."""
from __future__ import annotations

import json
import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steu_core.data import NoteSet, load_notes
from steu_core.errors import DataError
from steu_core.safety import read_bounded

ROWS = [("chest pain, troponin up", "cardiac"), ("cough and wheezing", "respiratory"), ("naloxone given", "substance")]
CSV_TEXT = "text,label\n" + "".join(f'"{t}",{y}\n' for t, y in ROWS)


def test_utf16_and_utf32_with_a_byte_order_mark_are_read_like_utf8(tmp_path):
    reference = load_notes(_write(tmp_path / "utf8.csv", CSV_TEXT.encode("utf-8")))
    for codec in ("utf-16", "utf-16-be", "utf-32", "utf-32-be"):
        bom = "\ufeff" if codec.endswith("-be") else ""  # the "-be" codecs write no mark by themselves
        notes = load_notes(_write(tmp_path / f"{codec}.csv", (bom + CSV_TEXT).encode(codec)))
        assert (notes.texts, notes.labels, notes.sha256) == (reference.texts, reference.labels, reference.sha256)


def test_utf16_without_a_byte_order_mark_is_named(tmp_path):
    path = _write(tmp_path / "wide.csv", CSV_TEXT.encode("utf-16-le"))
    with pytest.raises(DataError, match="UTF-16: save as UTF-8"):
        load_notes(path)


def test_nul_bytes_that_are_not_utf16_are_binary(tmp_path):
    path = _write(tmp_path / "odd.csv", b"text,label\n\x00\x00\x00\x00\x00\x00abc,def\n" * 3)
    with pytest.raises(DataError, match=r"binary data \(NUL bytes\)"):
        load_notes(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "notes.csv")
    with pytest.raises(DataError, match=r"is a named pipe \(FIFO\), not a regular file"):
        load_notes(tmp_path / "notes.csv")  # before the fix: blocked forever in open()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_link_to_a_device_is_refused(tmp_path):
    (tmp_path / "notes.jsonl").symlink_to("/dev/zero")
    with pytest.raises(DataError, match="is a character device, not a regular file"):
        load_notes(tmp_path / "notes.jsonl")


def test_a_file_reporting_size_zero_is_read_only_to_the_limit(tmp_path, monkeypatch):
    """A file whose size says 0 (as /proc files do) but that keeps giving bytes: at most limit + 1
    bytes are read, and the file is refused as over the limit."""
    path = _write(tmp_path / "notes.csv", CSV_TEXT.encode() * 2000)  # about 150 kB
    reads = []
    real_read = os.read

    def counting_read(fd, n):
        data = real_read(fd, n)
        reads.append(len(data))
        return data

    real_stat = Path.stat
    monkeypatch.setattr(Path, "stat", lambda self, **kw: _zero_size(real_stat(self, **kw)) if self == path
                        else real_stat(self, **kw))
    monkeypatch.setattr(os, "read", counting_read)
    with pytest.raises(DataError, match=r"over the 0\.01 MB limit"):
        load_notes(path, max_file_mb=0.01)
    assert sum(reads) == int(0.01 * 2**20) + 1


def _zero_size(st: os.stat_result) -> os.stat_result:
    values = list(st)
    values[6] = 0  # st_size
    return os.stat_result(values)


def test_read_bounded_returns_at_most_limit_plus_one_bytes(tmp_path):
    path = _write(tmp_path / "f.bin", b"x" * 100)
    assert read_bounded(path, 1000) == b"x" * 100
    assert read_bounded(path, 10) == b"x" * 11


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------------
# Property: any file -> a NoteSet or a DataError.

LOADER = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])
EXTENSIONS = ["csv", "tsv", "jsonl", "ndjson", "parquet"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252"]
HEADERS = ["text", "label", "note", "class", "category", "", " text ", "text\ufeff", "y", "x" * 50, "Jane Doe MRN 4471"]
PIECES = st.sampled_from(['"', '""', ",", "\t", ";", "|", "\n", "\r\n", "\r", " ", "\\", "'", "=", "{", "}", "[", "]",
                          ":", "null", "1", "-0.5", "é", "\u2028", "\x00", "\x1b[31m", "\ufeff", "\U0001f600"])
CELL = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.lists(st.one_of(PIECES, st.text(string.ascii_letters, max_size=6)), max_size=12).map("".join),
    st.integers(min_value=0, max_value=300_000).map(lambda n: "x" * n),  # a huge field
)


@st.composite
def delimited_documents(draw) -> str:
    sep = draw(st.sampled_from([",", "\t", ";"]))
    header = draw(st.lists(st.sampled_from(HEADERS), max_size=4))
    rows = draw(st.lists(st.lists(CELL, max_size=4), max_size=6))
    quote = draw(st.booleans())

    def line(cells):
        return sep.join('"' + c.replace('"', '""') + '"' if quote else c for c in cells)
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return newline.join(line(r) for r in ([header] if header else []) + rows) + draw(st.sampled_from(["", newline]))


JSON_VALUE = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), CELL),
                          lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(st.sampled_from(HEADERS), inner, max_size=3)),
                          max_leaves=8)


@st.composite
def jsonl_documents(draw) -> str:
    lines = draw(st.lists(st.one_of(
        st.dictionaries(st.sampled_from(HEADERS), JSON_VALUE, max_size=4).map(json.dumps),
        JSON_VALUE.map(json.dumps),
        st.text(max_size=30)), max_size=6))
    return "\n".join(lines)


@st.composite
def note_files(draw) -> tuple[str, bytes, float]:
    ext = draw(st.sampled_from(EXTENSIONS))
    kind = draw(st.sampled_from(["text", "text", "bytes", "empty"]))
    if kind == "empty":
        data = b""
    elif kind == "bytes":
        data = draw(st.sampled_from([b"", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"PAR1"]))
        data += draw(st.binary(max_size=400))
    else:
        text = draw(jsonl_documents() if ext in ("jsonl", "ndjson") else delimited_documents())
        codec = draw(st.sampled_from(ENCODINGS))
        data = text.encode(codec, errors="replace" if codec in ("latin-1", "cp1252") else "surrogatepass")
        if draw(st.booleans()):
            data = data[: draw(st.integers(min_value=0, max_value=len(data)))]  # cut anywhere, mid-character too
    max_mb = draw(st.sampled_from([200.0, 200.0, 0.001]))
    return ext, data, max_mb


@LOADER
@given(case=note_files())
def test_any_file_gives_a_noteset_or_a_data_error(case, tmp_path):
    ext, data, max_mb = case
    path = _write(tmp_path / f"generated.{ext}", data)
    try:
        notes = load_notes(path, max_file_mb=max_mb)
    except DataError as exc:
        assert str(exc).startswith(("file '", "file \"")), str(exc)  # names the file
        return
    assert isinstance(notes, NoteSet) and len(notes) >= 1
    assert all(isinstance(t, str) and t.strip() for t in notes.texts)
    assert all(isinstance(y, str) and y for y in notes.labels)
