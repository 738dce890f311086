"""A comparison on disk: ``comparison.json`` and ``comparison.csv`` written, read back, listed, and the
figures the dashboard draws from them."""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from ..charts import comparison_pareto, layer_probe_curves
from ..errors import ConfigError
from ..model import write_json_atomic
from ..paths import comparisons_dir
from .schema import FULL_PREFIX, SCHEMA, STEPS_SUFFIX, STRONGEST, relearn_columns, relearn_n

CSV_SCALARS = ["method", "forget_f1", "retain_f1", "loss_mia_auc", "ref_mia_auc", "ref_mia_tpr_at_1pct_fpr",
               "probe_auc", "output_auc", "ks_statistic", "ks_pvalue"]
CSV_TAIL = ["coverage", "k", "params_changed", "params_changed_fraction", "param_diff_verdict", "encoder_unchanged",
            "wall_seconds", "time_ratio_to_oracle", "run_seconds", "steps"]


def _csv_header(rows: list[dict]) -> list[str]:
    """Intervals as two columns ``_ci_lo``/``_ci_hi``, only for figures that have one in some row."""
    header = []
    for key in CSV_SCALARS:
        header.append(key)
        if any(r.get(f"{key}_ci") for r in rows):
            header += [f"{key}_ci_lo", f"{key}_ci_hi"]
    for base in sorted({column for r in rows for column in relearn_columns(r)}, key=relearn_n):
        header += [f"{base}_steps", f"{base}_text", f"{base}_steps_ci_lo", f"{base}_steps_ci_hi"]
    full = {c[:-len(STEPS_SUFFIX)] for r in rows for c in r if c.startswith(FULL_PREFIX) and c.endswith(STEPS_SUFFIX)}
    for base in sorted(full, key=lambda c: int(c[len(FULL_PREFIX):])):
        header += [f"{base}_steps", f"{base}_text", f"{base}_steps_ci_lo", f"{base}_steps_ci_hi"]
    if any(r.get(f"{STRONGEST}_steps") is not None for r in rows):
        header += [f"{STRONGEST}_steps", f"{STRONGEST}_text", f"{STRONGEST}_attack", f"{STRONGEST}_steps_ci_lo",
                   f"{STRONGEST}_steps_ci_hi"]
    return header + CSV_TAIL


def _csv_cells(row: dict, header: list[str]) -> list:
    cells = []
    for h in header:
        if h.endswith(("_ci_lo", "_ci_hi")):
            ci = row.get(h[:-3])
            cells.append("" if not ci else ci[0 if h.endswith("_lo") else 1])
        else:
            v = row.get(h)
            cells.append("" if v is None else v)
    return cells


def csv_text(comparison: dict) -> str:
    """``comparison.csv``: the rows of the comparison, one column per figure and interval end."""
    rows = comparison["rows"]
    header = _csv_header(rows)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow(_csv_cells(r, header))
    return buf.getvalue()


def write_comparison(directory: Path, comparison: dict) -> None:
    """``comparison.json`` and ``comparison.csv`` into ``directory``, each replaced whole."""
    write_json_atomic(directory / "comparison.json", comparison)
    tmp = directory / ".comparison.csv.tmp"
    tmp.write_text(csv_text(comparison))
    os.replace(tmp, directory / "comparison.csv")


def load_comparison_dir(directory: str | Path) -> dict:
    """The finished comparison in ``directory`` (raises ConfigError for anything else)."""
    path = Path(directory) / "comparison.json"
    if not path.is_file():
        raise ConfigError(f"'{directory}' is not a finished comparison (no comparison.json).",
                          hint="Give the --out directory of a completed 'compare' run.")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"'{path}' cannot be read ({type(exc).__name__}).") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("rows"), list):
        raise ConfigError(f"'{path}' is not a comparison written by this tool (schema {SCHEMA}).")
    return data


def list_comparisons(root: str | Path | None = None) -> list[dict]:
    """Finished comparisons under ``root`` (default: the data directory's comparisons/), newest first:
    id, path, created_utc, forget_class, methods, total_seconds. Unreadable ones are skipped."""
    root = Path(root) if root is not None else comparisons_dir()
    out = []
    for d in sorted(root.iterdir() if root.is_dir() else [], reverse=True):
        if not d.is_dir() or d.name.startswith("."):
            continue
        try:
            c = load_comparison_dir(d)
        except ConfigError:
            continue
        out.append({"id": d.name, "path": str(d), "created_utc": c.get("created_utc"),
                    "forget_class": c.get("forget_class"), "methods": list(c.get("methods") or []),
                    "total_seconds": c.get("total_seconds")})
    return out


def comparison_figures(comparison: dict | str | Path) -> dict:
    """Plotly figures of a finished comparison (its directory, or the dict already loaded from it),
    for the dashboard: ``{"pareto": Figure, "layer_probe": Figure}`` (the second only when the layer-wise
    probe ran)."""
    if not isinstance(comparison, dict):
        comparison = load_comparison_dir(comparison)
    figures = {"pareto": comparison_pareto(comparison)}
    if (comparison.get("audits") or {}).get("layer_probe", {}).get("per_model"):
        figures["layer_probe"] = layer_probe_curves(comparison)
    return figures
