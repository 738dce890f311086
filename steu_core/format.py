"""How STEU Audit prints numbers, times and hashes: the one home of these formats for the dashboard,
the PDF/JSON report and the CLI, so the same value reads the same everywhere.

Every formatter takes whatever a results.json may hold (a number, a numeric string, None, NaN) and
returns text; a value that is not a finite number prints as ``MISSING`` ("n/a"), never "nan".
``digits`` is the number of decimals: the report prints 4 (evidence), the dashboard 3 (at a glance).
"""
from __future__ import annotations

import json
import math
import unicodedata
from datetime import datetime, timezone
from typing import Any

MISSING = "n/a"
REPORT_DIGITS = 4
# Unicode categories that are never drawn as themselves: controls (newline, ESC, the C1 range with its
# one-byte terminal escape U+009B), format characters (bidi overrides, zero-width), line/paragraph
# separators and lone surrogates (which cannot even be encoded).
UNPRINTABLE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}
ELLIPSIS = "\u2026"
LABEL_CHARS = 60        # a class name printed in a table, chart or header (longer ones are cut, length said)
FIELD_CHARS = 300       # a request field (requester, reason ...) printed in a report or listing

__all__ = ["MISSING", "REPORT_DIGITS", "to_number", "number", "change", "percent", "interval", "count",
           "wall_time", "duration", "when", "setting", "wrap_hash", "printable", "LABEL_CHARS",
           "FIELD_CHARS", "label"]


def to_number(x: Any) -> float | None:
    """``x`` as a finite float, or None (missing, not a number, NaN or infinite)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v


def number(x: Any, digits: int = REPORT_DIGITS) -> str:
    """A score with ``digits`` decimals: 0.91234 -> "0.9123"."""
    v = to_number(x)
    return MISSING if v is None else f"{v:.{digits}f}"


def change(before: Any, after: Any, digits: int = REPORT_DIGITS) -> str:
    """The signed change after - before: (0.9, 0.85) -> "-0.0500"."""
    b, a = to_number(before), to_number(after)
    return MISSING if a is None or b is None else f"{a - b:+.{digits}f}"


def percent(fraction: Any, digits: int = REPORT_DIGITS) -> str:
    """A fraction as a percentage to ``digits`` significant digits, without trailing zeros:
    0.001894 -> "0.1894 %", 0.9625 -> "96.25 %", 0.5 -> "50 %", 1 -> "100 %". A share that is not
    all (or not none) never prints as "100 %" (or "0 %"): it gets the decimals that tell it apart."""
    v = to_number(fraction)
    if v is None:
        return MISSING
    p = 100 * v
    if p == 0:
        return "0 %"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(p))))
    text = f"{p:.{decimals}f}"
    while float(text) in (0.0, 100.0) and p not in (0.0, 100.0) and decimals < 12:
        decimals += 1
        text = f"{p:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} %"


def interval(ci: Any, digits: int = REPORT_DIGITS) -> str:
    """A [low, high] interval: "[0.4812, 0.5390]"; "n/a" unless both ends are numbers."""
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(to_number(end) is not None for end in ci):
        return f"[{number(ci[0], digits)}, {number(ci[1], digits)}]"
    return MISSING


def count(n: Any) -> str:
    """A whole number with thousands separators: 22714756 -> "22,714,756"."""
    try:
        return f"{int(n):,}"
    except (TypeError, ValueError, OverflowError):
        return MISSING


def wall_time(seconds: Any) -> str:
    """A measured time as the report prints it: "12.34 s" below two minutes, else "2.5 min"."""
    v = to_number(seconds)
    if v is None:
        return MISSING
    return f"{v:.2f} s" if v < 120 else f"{v / 60:.1f} min"


def duration(seconds: Any) -> str:
    """An elapsed time as a clock reads it (the dashboard): "42 s" below a minute, else "m:ss"."""
    v = to_number(seconds)
    if v is None:
        return MISSING
    s = int(round(v))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


def minutes(seconds: Any) -> str:
    """An estimated time in words: "40 s" below a minute, else whole minutes rounded up ("13 min")."""
    v = to_number(seconds)
    if v is None:
        return MISSING
    return f"{int(round(v))} s" if v < 60 else f"{int(-(-v // 60))} min"


def when(iso: Any, missing: str = MISSING) -> str:
    """An ISO 8601 time as "YYYY-MM-DD HH:MM UTC" (``missing`` when empty, as given if it does not parse).

    A time with an offset is converted to UTC; a time without one is taken to be UTC already.
    """
    if not iso:
        return missing
    try:
        t = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M UTC")


def setting(value: Any) -> str:
    """A method setting's value: None -> "default", booleans as yes/no, lists and dicts as JSON."""
    if value is None:
        return "default"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def wrap_hash(digest: Any, width: int = 32) -> str:
    """A hex digest on lines of ``width`` characters, so a SHA-256 fits a table cell in two lines."""
    h = str(digest or "").strip()
    if not h:
        return MISSING
    return "\n".join(h[i:i + width] for i in range(0, len(h), width))


def _visible(ch: str) -> str:
    """One unprintable character as the escape Python would write for it: "\\n", "\\x1b", "\\u202e"."""
    return ch.encode("unicode_escape", "backslashreplace").decode("ascii") if ch != "\n" else "\\n"


def printable(text: Any, limit: int | None = None) -> str:
    """Free text typed by a user (a request id, requester, reason, operator, a label name) as it may be
    printed: every control, format or separator character is shown as its escape ("\\x1b", "\\n"), so
    it can neither forge a line nor drive a terminal; ``limit`` characters at most (then an ellipsis
    and the full length). The stored value stays as given: call this only where text is printed."""
    s = "" if text is None else str(text)
    cut = limit is not None and len(s) > limit
    shown = s[:limit] if cut else s
    out = "".join(_visible(ch) if unicodedata.category(ch) in UNPRINTABLE_CATEGORIES else ch for ch in shown)
    return f"{out}{ELLIPSIS} ({len(s)} characters)" if cut else out


def label(name: Any) -> str:
    """A class name as every view prints it: printable and at most :data:`LABEL_CHARS` long."""
    return printable(name, LABEL_CHARS)
