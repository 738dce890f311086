"""The comparison as text: the table's cells (figure and 95 % interval together), the table for a terminal,
and the shell command that makes a comparison.

``format_value``, ``format_interval`` and ``format_steps`` are the comparison's number formats; they are
kept together here until they move to ``steu_core/format.py``, the one home of number formats.
"""
from __future__ import annotations

import math
import shlex
from pathlib import Path

from ..request import DEFAULT_METHODS
from ..audits.deep_base import ORACLE, ORIGINAL
from ..verdicts import MODEL_FILE, OUTPUTS, THREAT_MODELS, VERDICT_WORDS, relearning
from .schema import FULL_PREFIX, STRONGEST, nested_get, relearn_columns, relearn_n

NOT_AVAILABLE = "n/a"
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent  # where `python -m steu_core` runs from
TABLE_HEADERS = ["method", "forget F1 [95% CI]", "retain F1 [95% CI]", "loss-MIA AUC [CI]", "RMIA AUC [CI]",
                 "probe AUC [CI]", "KS vs oracle (p)"]
TABLE_TAIL_HEADERS = ["coverage", "% params", "seconds", "x oracle"]


def format_steps(v, max_steps) -> str:
    """A relearning step count; above ``max_steps`` it is censored: "never relearned within the bound"."""
    return f"never within {max_steps}" if max_steps is not None and v > max_steps else f"{float(v):g}"


def format_value(v, digits=3, max_steps=None) -> str:
    """A figure of the table: ``n/a`` when missing or not finite, a step count when ``max_steps`` is given."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return NOT_AVAILABLE
    if max_steps is not None:
        return format_steps(v, max_steps)
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def format_interval(ci, max_steps=None) -> str:
    """``[lo, hi]``, or nothing when there is no complete interval."""
    if not ci or any(x is None for x in ci):
        return ""
    return f"[{format_value(ci[0], max_steps=max_steps)}, {format_value(ci[1], max_steps=max_steps)}]"


def compare_command(model: str, train: str | Path, evaluation: str | Path, forget_class: str,
                    forget: str | Path | None = None, methods: list[str] | None = None,
                    forget_ids: str | Path | None = None, id_column: str | None = None) -> str:
    """The shell command that runs a comparison of ``methods`` on this request (saved under the data
    directory, where :func:`steu_core.compare.list_comparisons` finds it)."""
    parts = ["python", "-m", "steu_core", "compare", "--model", str(model), "--train", str(train),
             "--eval", str(evaluation), "--forget-class", str(forget_class)]
    if forget:
        parts += ["--forget", str(forget)]
    if forget_ids:
        parts += ["--forget-ids", str(forget_ids)] + (["--id-column", str(id_column)] if id_column else [])
    parts += ["--methods", ",".join(methods or DEFAULT_METHODS)]
    return " ".join(shlex.quote(p) for p in parts)


def portable_name(path: str | Path) -> str:
    """A path as a command shown to someone else may read: relative to the project folder when the
    file is in it (the sample notes), else the file's bare name (where it lies is this machine's business)."""
    p = Path(path).expanduser()
    try:
        return p.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return p.name


def portable_command(model: str | Path, train: str | Path, evaluation: str | Path, forget_class: str,
                     forget: str | Path | None = None, methods: list[str] | None = None,
                     forget_ids: str | Path | None = None, id_column: str | None = None) -> str:
    """:func:`compare_command` without this machine's paths, to run from the project folder."""
    model = model if str(model) == "default" else portable_name(model)
    return compare_command(model, portable_name(train), portable_name(evaluation), forget_class,
                           portable_name(forget) if forget else None, methods,
                           portable_name(forget_ids) if forget_ids else None, id_column)


def _figure_cell(row: dict, key: str) -> str:
    return f"{format_value(row.get(key))} {format_interval(row.get(key + '_ci'))}".strip()


def _ks_cell(row: dict) -> str:
    return NOT_AVAILABLE if row.get("ks_statistic") is None else f"{row['ks_statistic']:.3f} (p={row['ks_pvalue']:.2g})"


def _relearn_cell(row: dict, n: int, max_steps, prefix: str = "relearn_n") -> str:
    ci = row.get(f"{prefix}{n}_steps_ci")
    text = row.get(f"{prefix}{n}_text") or NOT_AVAILABLE
    if ci:
        text += f" [{format_steps(ci[0], max_steps)}, {format_steps(ci[1], max_steps)}]"
    return text


def _strongest_cell(row: dict) -> str:
    """The strongest relearning attacker's median steps, interval and which attacker it was."""
    if row.get(f"{STRONGEST}_text") is None:
        return NOT_AVAILABLE
    return f"{row[f'{STRONGEST}_text']} {row.get(f'{STRONGEST}_ci_text') or ''} ({row.get(f'{STRONGEST}_attack')})"


def _full_n_values(comparison: dict) -> list[int]:
    return list(nested_get(comparison, "audits", "relearn_full", "n_values", default=[]) or [])


def _cost_cells(row: dict) -> list[str]:
    """coverage, % of parameters changed, seconds, time relative to the oracle."""
    pct = row.get("params_changed_fraction")
    return [NOT_AVAILABLE if row.get("coverage") is None else f"{100 * row['coverage']:.0f} %",
            NOT_AVAILABLE if pct is None else f"{100 * pct:.4g}", format_value(row.get("wall_seconds"), 1),
            NOT_AVAILABLE if row.get("time_ratio_to_oracle") is None else f"{row['time_ratio_to_oracle']:.3g}"]


def table_rows(comparison: dict) -> tuple[list[str], list[list[str]]]:
    """The comparison table as text cells (figure and its 95 % interval together): headers, rows."""
    rows = comparison["rows"]
    n_values = [relearn_n(column) for column in relearn_columns(rows[0])]
    full_n = _full_n_values(comparison)
    max_steps = nested_get(comparison, "audits", "relearn", "max_steps")
    full_max = nested_get(comparison, "audits", "relearn_full", "max_steps")
    strongest = [] if not (n_values or full_n) else ["strongest relearning attacker"]
    headers = [*TABLE_HEADERS, *(f"relearn head n={n}" for n in n_values), *(f"relearn full n={n}" for n in full_n),
               *strongest, *TABLE_TAIL_HEADERS]
    out = []
    for r in rows:
        out.append([r["method"], *(_figure_cell(r, key) for key in
                                   ("forget_f1", "retain_f1", "loss_mia_auc", "ref_mia_auc", "probe_auc")),
                    _ks_cell(r), *(_relearn_cell(r, n, max_steps) for n in n_values),
                    *(_relearn_cell(r, n, full_max, FULL_PREFIX) for n in full_n),
                    *([_strongest_cell(r)] if strongest else []), *_cost_cells(r)])
    return headers, out


def table_text(comparison: dict) -> str:
    """The comparison table in aligned columns, for a terminal."""
    headers, rows = table_rows(comparison)
    widths = [max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in enumerate(headers)]
    return "\n".join("".join(f"{v:<{w}}" for v, w in zip(line, widths)).rstrip() for line in [headers, *rows])


def relearn_verdict_lines(comparison: dict) -> list[str]:
    """"method: Yes / No / Inconclusive - reason" for every method, where the comparison attacked the models
    (computed from the rows for a comparison saved before the verdict was)."""
    rows = comparison["rows"]
    if not any(r.get(f"{STRONGEST}_steps") is not None for r in rows):
        return []
    by = {r["method"]: r for r in rows}
    judged = [(r["method"], r.get("relearn_verdict") or relearning(r, by.get(ORACLE), by.get(ORIGINAL))) for r in rows
              if r["method"] not in (ORIGINAL, ORACLE)]
    return [f"{method}: {VERDICT_WORDS[v['verdict']]} - {v['reason']}" for method, v in judged]


def verdict_lines(comparison: dict) -> list[str]:
    """"method: <headline> (an attacker who sees predictions: <verdict>; one who has the model file: <verdict>)"
    for every method whose row carries its verdicts (a comparison saved before they were has none)."""
    lines = []
    for r in comparison["rows"]:
        v = r.get("verdicts") or {}
        if r.get("verdict") and v:
            lines.append(f"{r['method']}: {r['verdict']} (against {THREAT_MODELS[OUTPUTS]}: "
                         f"{VERDICT_WORDS.get(v.get(OUTPUTS), 'n/a')}; against {THREAT_MODELS[MODEL_FILE]}: "
                         f"{VERDICT_WORDS.get(v.get(MODEL_FILE), 'n/a')})")
    return lines
