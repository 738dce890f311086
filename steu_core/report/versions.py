"""Report file names: regenerating a report never overwrites an earlier version.

``report.pdf`` is followed by ``report-v2.pdf``, ``report-v3.pdf`` ... Each version keeps its own file
and its own ledger entry, so a report handed out earlier can always still be checked.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import ConfigError
from ..outputs import check_output_file

IF_EXISTS = ("version", "refuse", "overwrite")
_VERSION_RE = re.compile(r"^(?P<stem>.+?)-v(?P<n>[0-9]+)$")


def base_stem(path: Path) -> str:
    """``report-v3`` -> ``report``; ``report`` -> ``report``."""
    m = _VERSION_RE.match(path.stem)
    return m.group("stem") if m else path.stem


def next_free(path: Path) -> Path:
    """``path`` if nothing is there, else the first free ``<stem>-vN<suffix>`` (N >= 2)."""
    if not path.exists():
        return path
    stem, n = base_stem(path), 2
    while (candidate := path.with_name(f"{stem}-v{n}{path.suffix}")).exists():
        n += 1
    return candidate


def target_path(out_pdf: Path, if_exists: str) -> Path:
    """Where the report goes: ``out_pdf``, its next free version, or a ConfigError for "refuse"."""
    if if_exists not in IF_EXISTS:
        raise ConfigError(f"if_exists must be one of {', '.join(IF_EXISTS)} (got {if_exists!r}).")
    if out_pdf.is_dir() and not out_pdf.is_symlink():
        raise ConfigError(f"'{out_pdf}' is a directory; a report is written to a PDF file.",
                          hint=f"Give a file name for --out, e.g. '{out_pdf / 'report.pdf'}'.")
    check_output_file(out_pdf, "--out", overwrite=True)  # a regular file or nothing; versions are decided below
    if not out_pdf.exists() or if_exists == "overwrite":
        return out_pdf
    if if_exists == "refuse":
        raise ConfigError(f"'{out_pdf}' already exists; a report is never overwritten silently.",
                          hint=f"Choose another --out, pass --new-version (writes '{next_free(out_pdf).name}') or "
                               "--overwrite (recorded in the ledger).")
    return next_free(out_pdf)


def report_versions(first: str | Path) -> list[Path]:
    """Every version of the report ``first`` names (``report.pdf``, ``report-v2.pdf`` ...), oldest first."""
    first = Path(first)
    stem = base_stem(first)
    found = []
    for p in first.parent.glob(f"{stem}*{first.suffix}"):
        m = _VERSION_RE.match(p.stem)
        if p.stem == stem:
            found.append((1, p))
        elif m and m.group("stem") == stem:
            found.append((int(m.group("n")), p))
    return [p for _, p in sorted(found)]
