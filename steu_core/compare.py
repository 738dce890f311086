"""Compare unlearning methods on one deletion request: "compared to what?" and "is it only hidden?".

``run_comparison`` runs every requested method through the ordinary run machinery
(:func:`steu_core.runs.run_unlearning`, one finished run directory per method under ``DIR/<method>/``),
then scores the original and every new model on the same notes and runs the deep audits
(:mod:`steu_core.audits.deep`: utility with intervals, forget quality vs the oracle, reference-model
MIA, representation probe, relearning). It writes one table, ``DIR/comparison.json`` and
``DIR/comparison.csv``, saying for every figure with an interval which differences are inside the
noise (overlapping 95 % intervals). A copy of ``comparison.json`` goes into each run directory, so
the PDF report of any of them carries the comparison.

Like a run, the comparison is written into a hidden staging directory ``.DIR.partial`` and renamed
to ``DIR`` only when complete; ``CANCEL`` in the staging directory stops it; a failure in any method
fails the whole comparison (nothing half-finished is left looking finished).

Dashboard hooks: :func:`run_comparison` (with ``progress``/``cancel`` callbacks, or
:func:`steu_core.runs.read_progress` on ``DIR``), :func:`load_comparison_dir` and
:func:`comparison_figures`.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import __version__
from .audits.deep import DEEP_AUDITS, ORACLE, ORIGINAL, DeepInputs, intervals_overlap, model_outputs, run_deep_audits
from .demo import resolve_model_path
from .errors import Cancelled, ConfigError, SteuError
from .methods import METHODS, get_method
from .model import encode, load_classifier, seed_everything, write_json_atomic
from .paths import comparisons_dir

SCHEMA = "steu-comparison/1"
DEFAULT_METHODS = ["steu", "steu_rows_only", "random_tokens", "head_only", "grad_ascent", "finetune_retain",
                   "retrain_oracle"]
# (column, its interval column, lower is "more forgotten"/better?) - the figures compared for noise
CI_METRICS = [("forget_f1", "forget_f1_ci"), ("retain_f1", "retain_f1_ci"), ("loss_mia_auc", "loss_mia_auc_ci"),
              ("ref_mia_auc", "ref_mia_auc_ci"), ("probe_auc", "probe_auc_ci"), ("ks_statistic", "ks_statistic_ci")]
METRIC_NAMES = {"forget_f1": "forget F1", "retain_f1": "retain F1", "loss_mia_auc": "loss-MIA AUC",
                "ref_mia_auc": "reference-MIA (RMIA) AUC", "probe_auc": "probe AUC",
                "ks_statistic": "KS statistic vs oracle"}


@dataclass
class CompareRequest:
    train: str | Path
    eval: str | Path
    forget_class: str
    out: str | Path
    model: str | Path = "default"
    forget: str | Path | None = None
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    settings: dict = field(default_factory=dict)         # {method: {setting: value}}
    audits: list[str] | None = None                      # deep audits (default: all)
    audit_settings: dict = field(default_factory=dict)   # {audit: {setting: value}}
    seed: int = 0
    device: str = "auto"
    text_column: str | None = None
    label_column: str | None = None
    max_length: int = 128
    batch_size: int = 64
    min_forget: int = 10
    use_cache: bool = True
    retain_sample: int = 256      # retain notes scored per model (reference models, relearning)
    n_boot: int = 1000
    record_ledger: bool = False   # comparisons are experiments, not deletions; opt in to log them
    lock_wait_s: float = 0.0      # wait this long for another run on the same model to finish
    request_id: str = ""
    requester: str = ""
    reason: str = ""
    operator: str = ""


def validate_compare_request(req: CompareRequest) -> None:
    """Cheap checks before anything is written."""
    if not req.methods:
        raise ConfigError("no methods to compare.", hint=f"Give --methods, e.g. {','.join(DEFAULT_METHODS[:3])}.")
    seen = set()
    for m in req.methods:
        get_method(m)
        if m in seen:
            raise ConfigError(f"method '{m}' is listed twice.", hint="List each method once.")
        seen.add(m)
    if not isinstance(req.settings, dict) or not all(isinstance(v, dict) for v in req.settings.values()):
        raise ConfigError("method settings must be a JSON object of objects, e.g. '{\"steu\": {\"max_steps\": 40}}'.")
    extra = sorted(set(req.settings) - set(req.methods))
    if extra:
        raise ConfigError(f"settings given for method(s) not being compared: {', '.join(extra)}.",
                          hint=f"Compared: {', '.join(req.methods)}.")
    for m in req.methods:
        get_method(m)(req.settings.get(m, {}), use_cache=req.use_cache)  # bad settings are refused here
    for a in req.audits or []:
        if a not in DEEP_AUDITS:
            raise ConfigError(f"unknown audit '{a}'", hint=f"Available: {', '.join(sorted(DEEP_AUDITS))}.")
    extra = sorted(set(req.audit_settings) - set(req.audits or DEEP_AUDITS))
    if extra:
        raise ConfigError(f"settings given for audit(s) not being run: {', '.join(extra)}.")
    for name, value, lo in (("--retain-sample", req.retain_sample, 2), ("--bootstrap", req.n_boot, 10),
                            ("--max-length", req.max_length, 8), ("--min-forget", req.min_forget, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ConfigError(f"{name} must be a whole number of at least {lo} (got {value!r}).")
    if Path(req.out).expanduser().exists():
        raise ConfigError(f"output directory '{req.out}' already exists.",
                          hint="Choose a new --out; finished comparisons are never overwritten.")


def _unlearn_request(req: CompareRequest, method: str, out: Path):
    from .runs import UnlearnRequest

    return UnlearnRequest(lock_wait_s=req.lock_wait_s, model=req.model, train=req.train, eval=req.eval, forget_class=req.forget_class, out=out,
                          forget=req.forget, method=method, settings=dict(req.settings.get(method, {})),
                          seed=req.seed, device=req.device, text_column=req.text_column,
                          label_column=req.label_column, max_length=req.max_length, batch_size=req.batch_size,
                          min_forget=req.min_forget, use_cache=req.use_cache, record_ledger=req.record_ledger,
                          request_id=req.request_id, requester=req.requester, reason=req.reason,
                          operator=req.operator)


def run_comparison(req: CompareRequest, progress: Callable[[dict], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> Path:
    """Run every method of ``req`` and the deep audits; return the finished comparison directory."""
    from .runs import Staging, run_unlearning

    validate_compare_request(req)
    out = Path(req.out).expanduser().resolve()
    stage = Staging(out)
    stage.claim()
    t_start = time.perf_counter()

    def report(info: dict) -> None:
        stage.update(**info)
        if progress:
            progress(dict(stage.state))

    def is_cancelled() -> bool:
        return stage.cancelled() or bool(cancel and cancel())

    try:
        results: dict[str, dict] = {}
        for i, method in enumerate(req.methods, start=1):
            if is_cancelled():
                raise Cancelled("the comparison was cancelled")
            report({"stage": "method", "method": method, "index": i, "total": len(req.methods), "run": {}})
            try:
                run_dir = run_unlearning(_unlearn_request(req, method, stage.path / method),
                                         progress=lambda d, m=method, k=i: report(
                                             {"stage": "method", "method": m, "index": k, "run": {
                                                 key: d.get(key) for key in ("stage", "step", "total", "elapsed_s")}}),
                                         cancel=is_cancelled)
            except SteuError as exc:
                if not isinstance(exc, Cancelled):
                    exc.message = f"method '{method}' failed: {exc.message}"
                    exc.args = (str(exc),)
                raise
            results[method] = json.loads((run_dir / "results.json").read_text())

        report({"stage": "score", "method": None, "run": {}})
        inputs = deep_inputs_from_runs(req, stage.path, report, is_cancelled)
        audits = run_deep_audits(inputs, req.audits)
        report({"stage": "table"})
        comparison = build_comparison(req, results, audits, inputs, time.perf_counter() - t_start)
        write_comparison(stage.path, comparison)
        for method in req.methods:
            write_json_atomic(stage.path / method / "comparison.json", comparison)
        if is_cancelled():
            raise Cancelled("the comparison was cancelled")
        stage.finish()
        return out
    except BaseException as exc:
        state = "cancelled" if isinstance(exc, (Cancelled, KeyboardInterrupt)) else "failed"
        stage.fail(state, str(exc) if isinstance(exc, SteuError) else f"internal error: {type(exc).__name__}")
        raise


def deep_inputs_from_runs(req: CompareRequest, root: str | Path, report: Callable[[dict], None] | None = None,
                          is_cancelled: Callable[[], bool] | None = None) -> DeepInputs:
    """Score the original and the models in ``root/<method>/model`` (one per ``req.methods``) on the forget
    set, the evaluation set and a retain sample: the inputs of the deep audits. Also usable on a finished
    comparison directory, to rerun audits with other settings (:func:`run_deep_audits`)."""
    from .methods.steu import stratified_sample
    from .runs import load_request_data

    root = Path(root)
    report = report or (lambda info: None)
    is_cancelled = is_cancelled or (lambda: False)
    seed_everything(req.seed)
    clf = load_classifier(resolve_model_path(req.model), device=req.device)
    ureq = _unlearn_request(req, req.methods[0], root / "unused")
    _, evaluation, forget, retain, fc = load_request_data(ureq, clf)
    retain_ids = torch.as_tensor([clf.labels.index(y) for y in retain.labels])
    pick = stratified_sample(retain_ids, req.retain_sample, req.seed)
    enc_f = encode(clf.tokenizer, forget.texts, req.max_length)
    enc_e = encode(clf.tokenizer, evaluation.texts, req.max_length)
    enc_r = encode(clf.tokenizer, [retain.texts[i] for i in pick], req.max_length)
    report({"stage": "score", "method": ORIGINAL})
    models = {ORIGINAL: model_outputs(ORIGINAL, clf, enc_f, enc_e, enc_r, batch_size=req.batch_size)}
    for method in req.methods:
        if is_cancelled():
            raise Cancelled("the comparison was cancelled")
        report({"stage": "score", "method": method})
        new = load_classifier(root / method / "model", device=req.device)
        models[method] = model_outputs(method, new, enc_f, enc_e, enc_r, original=models[ORIGINAL],
                                       batch_size=req.batch_size)
    return DeepInputs(labels=clf.labels, forget_class_id=fc, forget=enc_f, eval=enc_e,
                      eval_labels=np.array([clf.labels.index(y) for y in evaluation.labels]), retain=enc_r,
                      retain_labels=retain_ids[pick].numpy(), models=models, seed=req.seed, n_boot=req.n_boot,
                      settings=req.audit_settings, progress=report, cancel=is_cancelled)


# ---------------------------------------------------------------------------------------------
# The table


def _get(d: dict, *path, default=None):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def _method_seconds(r: dict) -> float:
    w = r.get("wall_seconds", {})
    return float(w.get("select", 0.0) + w.get("unlearn", 0.0))


def build_comparison(req: CompareRequest, results: dict[str, dict], audits: dict, inputs: DeepInputs,
                     total_seconds: float) -> dict:
    first = results[req.methods[0]]
    oracle_s = _method_seconds(results[ORACLE]) if ORACLE in results else None
    n_values = _get(audits, "relearn", "n_values", default=[]) or []
    rows = []
    for name in [ORIGINAL, *req.methods]:
        is_orig = name == ORIGINAL
        r = first if is_orig else results[name]
        when = "before" if is_orig else "after"
        row = {"method": name, "description": "the model before unlearning" if is_orig
               else getattr(METHODS[name], "description", ""),
               "forget_f1": r[f"forget_f1_{when}"], "retain_f1": r[f"retain_f1_{when}"],
               "forget_f1_ci": _get(audits, "utility_ci", "per_model", name, "forget_f1_ci"),
               "retain_f1_ci": _get(audits, "utility_ci", "per_model", name, "retain_f1_ci"),
               "loss_mia_auc": _get(r, "mia", f"loss_auc_{when}"),
               "loss_mia_auc_ci": _get(r, "mia", f"loss_auc_ci_{when}"),
               "ref_mia_auc": _get(audits, "reference_mia", "per_model", name, "auc"),
               "ref_mia_auc_ci": _get(audits, "reference_mia", "per_model", name, "auc_ci"),
               "ref_mia_tpr_at_1pct_fpr": _get(audits, "reference_mia", "per_model", name, "tpr_at_1pct_fpr"),
               "ref_mia_tpr_at_1pct_fpr_ci": _get(audits, "reference_mia", "per_model", name, "tpr_at_1pct_fpr_ci"),
               "probe_auc": _get(audits, "probe", "per_model", name, "probe_auc"),
               "probe_auc_ci": _get(audits, "probe", "per_model", name, "probe_auc_ci"),
               "output_auc": _get(audits, "probe", "per_model", name, "output_auc"),
               "ks_statistic": _get(audits, "forget_quality", "per_model", name, "ks_statistic"),
               "ks_statistic_ci": _get(audits, "forget_quality", "per_model", name, "ks_statistic_ci"),
               "ks_pvalue": _get(audits, "forget_quality", "per_model", name, "ks_pvalue")}
        for n in n_values:
            rl = _get(audits, "relearn", "per_model", name, f"n{n}") or {}
            row[f"relearn_n{n}_steps"] = rl.get("median_steps")
            row[f"relearn_n{n}_steps_ci"] = rl.get("median_steps_ci")
            row[f"relearn_n{n}_text"] = rl.get("text")
        if is_orig:
            row.update(k=0, coverage=None, params_changed=0, params_changed_fraction=0.0, param_diff_verdict=None,
                       encoder_unchanged=True, wall_seconds=0.0, run_seconds=None, time_ratio_to_oracle=None,
                       steps=None, run_dir=None)
        else:
            secs = _method_seconds(r)
            # coverage only means something for edits confined to rows + head (the encoder unchanged)
            cov = _get(r, "coverage", "fraction") if r.get("encoder_unchanged") else None
            row.update(k=r.get("k"), coverage=cov,
                       params_changed=r.get("params_changed"), params_changed_fraction=r.get("params_changed_fraction"),
                       param_diff_verdict=r.get("param_diff_verdict"), encoder_unchanged=r.get("encoder_unchanged"),
                       wall_seconds=secs, run_seconds=_get(r, "wall_seconds", "total"),
                       time_ratio_to_oracle=(secs / oracle_s) if oracle_s else None,
                       steps=_get(r, "training", "steps"), run_dir=name)
        rows.append(row)
    metrics = CI_METRICS + [(f"relearn_n{n}_steps", f"relearn_n{n}_steps_ci") for n in n_values]
    noise = noise_analysis(rows, metrics)
    comparison = {
        "schema": SCHEMA, "tool_version": __version__,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "forget_class": first["forget_class"], "forget_class_id": first["forget_class_id"], "labels": first["labels"],
        "model": _get(first, "model", "source"), "device": first.get("device"), "seed": req.seed,
        "methods": list(req.methods), "oracle": ORACLE if ORACLE in results else None,
        "data": {**first.get("data", {}), "retain_sample": len(inputs.retain)},
        "rows": rows, "noise": noise,
        "findings": findings(rows, noise, metrics, _get(audits, "relearn", "max_steps")),
        "audits": _strip_models(audits), "total_seconds": total_seconds,
        "definitions": {
            "forget_f1 / retain_f1": "on the evaluation set, as in results.json; 95 % bootstrap over evaluation notes",
            "loss_mia_auc": "loss-threshold membership attack of the run (members: forget set; non-members: held-out "
                            "notes of the forget class); 95 % bootstrap",
            "ref_mia_auc": "RMIA with linear-head reference models on frozen oracle (or base) features; see "
                           "steu_core/audits/reference_mia.py",
            "probe_auc": "cross-validated logistic-regression probe on the model's head inputs, forget class vs rest",
            "ks_statistic / ks_pvalue": "two-sample KS test of forget-set losses against the retrain oracle",
            "relearn_nN_steps": "median steps (over draws) of fine-tuning on N forget notes + N retain notes until "
                                "forget F1 > 0.5; '> max' = never within the bound",
            "wall_seconds": "token selection + unlearning (for the oracle: its training), on this machine",
            "time_ratio_to_oracle": "wall_seconds / the oracle's wall_seconds",
            "noise": "two figures are called indistinguishable when their 95 % intervals overlap (a conservative "
                     "rule: non-overlap implies a difference, overlap does not prove equality)"},
    }
    return comparison


def _strip_models(audits: dict) -> dict:
    return json.loads(json.dumps(audits, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def noise_analysis(rows: list[dict], metrics) -> dict:
    """For every figure with an interval: which pairs of models are inside the noise of each other."""
    out = {}
    for key, ci_key in metrics:
        same, different = [], []
        have = [r for r in rows if r.get(key) is not None and r.get(ci_key)]
        for i, a in enumerate(have):
            for b in have[i + 1:]:
                ov = intervals_overlap(a[ci_key], b[ci_key])
                if ov is None:
                    continue
                (same if ov else different).append([a["method"], b["method"]])
        out[key] = {"indistinguishable": same, "different": different}
    return out


def _fmt(v, digits=3, max_steps=None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if max_steps is not None:
        return _steps(v, max_steps)
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def findings(rows: list[dict], noise: dict, metrics, max_steps: int | None = None) -> list[str]:
    """Plain sentences for STEU and the oracle against every other model: which differences lie outside
    the noise (non-overlapping intervals) and which inside."""
    by = {r["method"]: r for r in rows}
    out = []
    anchors = [m for m in ("steu", ORACLE) if m in by]
    for key, ci_key in metrics:
        label = METRIC_NAMES.get(key, key.replace("_", " "))
        steps = max_steps if key.startswith("relearn_") else None
        if steps is not None:
            label = f"relearning steps (n = {key[len('relearn_n'):-len('_steps')]})"

        def val(r):
            return f"{_fmt(r.get(key), max_steps=steps)} {_ci(r.get(ci_key), steps)}"

        pairs = noise.get(key, {})
        for anchor in anchors:
            diff = sorted(b if a == anchor else a for a, b in pairs.get("different", []) if anchor in (a, b))
            same = sorted(b if a == anchor else a for a, b in pairs.get("indistinguishable", []) if anchor in (a, b))
            if anchor == ORACLE and "steu" in anchors:
                diff, same = [m for m in diff if m != "steu"], [m for m in same if m != "steu"]
            if not diff and not same:
                continue
            text = f"{label}: {anchor} {val(by[anchor])}"
            if diff:
                text += "; differs (intervals do not overlap) from " + ", ".join(f"{m} {val(by[m])}" for m in diff)
            if same:
                text += "; within the noise of " + ", ".join(same)
            out.append(text)
    return out


def _ci(ci, max_steps=None) -> str:
    if not ci or any(x is None for x in ci):
        return ""
    return f"[{_fmt(ci[0], max_steps=max_steps)}, {_fmt(ci[1], max_steps=max_steps)}]"


CSV_SCALARS = ["method", "forget_f1", "retain_f1", "loss_mia_auc", "ref_mia_auc", "ref_mia_tpr_at_1pct_fpr",
               "probe_auc", "output_auc", "ks_statistic", "ks_pvalue"]
CSV_TAIL = ["coverage", "k", "params_changed", "params_changed_fraction", "param_diff_verdict", "encoder_unchanged",
            "wall_seconds", "time_ratio_to_oracle", "run_seconds", "steps"]


def csv_text(comparison: dict) -> str:
    rows = comparison["rows"]
    relearn = sorted({k[:-len("_steps")] for r in rows for k in r if k.startswith("relearn_n") and k.endswith("_steps")},
                     key=lambda s: int(s[len("relearn_n"):]))
    header = []
    for key in CSV_SCALARS:
        header.append(key)
        if any(r.get(f"{key}_ci") for r in rows):
            header += [f"{key}_ci_lo", f"{key}_ci_hi"]
    for base in relearn:
        header += [f"{base}_steps", f"{base}_text", f"{base}_steps_ci_lo", f"{base}_steps_ci_hi"]
    header += CSV_TAIL
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        line = []
        for h in header:
            if h.endswith("_ci_lo") or h.endswith("_ci_hi"):
                ci = r.get(h[:-3])
                line.append("" if not ci else ci[0 if h.endswith("_lo") else 1])
            else:
                v = r.get(h)
                line.append("" if v is None else v)
        w.writerow(line)
    return buf.getvalue()


def write_comparison(directory: Path, comparison: dict) -> None:
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
    for the dashboard: ``{"pareto": Figure}``."""
    from .charts import comparison_pareto

    if not isinstance(comparison, dict):
        comparison = load_comparison_dir(comparison)
    return {"pareto": comparison_pareto(comparison)}


def compare_command(model: str, train: str | Path, evaluation: str | Path, forget_class: str,
                    forget: str | Path | None = None, methods: list[str] | None = None) -> str:
    """The shell command that runs a comparison of ``methods`` on this request (saved under the data
    directory, where :func:`list_comparisons` finds it)."""
    import shlex

    parts = ["python", "-m", "steu_core", "compare", "--model", str(model), "--train", str(train),
             "--eval", str(evaluation), "--forget-class", str(forget_class)]
    if forget:
        parts += ["--forget", str(forget)]
    parts += ["--methods", ",".join(methods or DEFAULT_METHODS)]
    return " ".join(shlex.quote(p) for p in parts)


def table_rows(comparison: dict) -> tuple[list[str], list[list[str]]]:
    """The comparison table as text cells (figure and its 95 % interval together): headers, rows."""
    rows = comparison["rows"]
    n_values = [int(k[len("relearn_n"):-len("_steps")]) for k in rows[0] if k.startswith("relearn_n")
                and k.endswith("_steps")]
    mx = _get(comparison, "audits", "relearn", "max_steps")
    headers = ["method", "forget F1 [95% CI]", "retain F1 [95% CI]", "loss-MIA AUC [CI]", "RMIA AUC [CI]",
               "probe AUC [CI]", "KS vs oracle (p)"]
    headers += [f"relearn n={n}" for n in n_values]
    headers += ["coverage", "% params", "seconds", "x oracle"]

    def cell(r, key):
        return f"{_fmt(r.get(key))} {_ci(r.get(key + '_ci'))}".strip()

    out = []
    for r in rows:
        ks = "n/a" if r.get("ks_statistic") is None else f"{r['ks_statistic']:.3f} (p={r['ks_pvalue']:.2g})"
        vals = [r["method"], cell(r, "forget_f1"), cell(r, "retain_f1"), cell(r, "loss_mia_auc"),
                cell(r, "ref_mia_auc"), cell(r, "probe_auc"), ks]
        for n in n_values:
            ci = r.get(f"relearn_n{n}_steps_ci")
            txt = r.get(f"relearn_n{n}_text") or "n/a"
            if ci:
                txt += f" [{_steps(ci[0], mx)}, {_steps(ci[1], mx)}]"
            vals.append(txt)
        pct = r.get("params_changed_fraction")
        vals += ["n/a" if r.get("coverage") is None else f"{100 * r['coverage']:.0f} %",
                 "n/a" if pct is None else f"{100 * pct:.4g}", _fmt(r.get("wall_seconds"), 1),
                 "n/a" if r.get("time_ratio_to_oracle") is None else f"{r['time_ratio_to_oracle']:.3g}"]
        out.append(vals)
    return headers, out


def table_text(comparison: dict) -> str:
    headers, rows = table_rows(comparison)
    widths = [max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in enumerate(headers)]
    return "\n".join("".join(f"{v:<{w}}" for v, w in zip(line, widths)).rstrip() for line in [headers, *rows])


def _steps(v, mx) -> str:
    return f"> {mx}" if mx is not None and v > mx else f"{float(v):g}"


# ---------------------------------------------------------------------------------------------
# CLI


def cmd_compare(args) -> int:
    try:
        settings = json.loads(args.settings) if args.settings else {}
        audit_settings = json.loads(args.audit_settings) if args.audit_settings else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--settings / --audit-settings is not valid JSON ({exc.msg}).",
                          hint="Give a JSON object, e.g. '{\"steu\": {\"max_steps\": 40}}'.") from None
    if not isinstance(audit_settings, dict) or not all(isinstance(v, dict) for v in audit_settings.values()):
        raise ConfigError("--audit-settings must be a JSON object of objects, e.g. '{\"relearn\": {\"max_steps\": 50}}'.")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else list(DEFAULT_METHODS)
    audits = [a.strip() for a in args.audits.split(",") if a.strip()] if args.audits else None
    from .runs import new_run_id

    out_dir = args.out or str(comparisons_dir() / new_run_id("cmp"))
    req = CompareRequest(model=args.model, train=args.train, eval=args.eval, forget_class=args.forget_class,
                         forget=args.forget, out=out_dir, methods=methods, settings=settings, audits=audits,
                         audit_settings=audit_settings, seed=args.seed, device=args.device,
                         text_column=args.text_column, label_column=args.label_column, max_length=args.max_length,
                         min_forget=args.min_forget, use_cache=not args.no_cache, retain_sample=args.retain_sample,
                         n_boot=args.bootstrap, record_ledger=args.record_ledger, request_id=args.request_id,
                         operator=os.environ.get("USER", ""))
    last = [None]

    def show(state: dict) -> None:
        key = (state.get("stage"), state.get("method"), (state.get("run") or {}).get("stage"))
        if args.quiet or key == last[0]:
            return
        last[0] = key
        m = f" {state['method']}" if state.get("method") else ""
        inner = (state.get("run") or {}).get("stage")
        print(f"[{state.get('elapsed_s', 0):7.1f} s] {state.get('stage')}{m}{': ' + inner if inner else ''}",
              file=sys.stderr, flush=True)

    out = run_comparison(req, progress=show)
    comparison = load_comparison_dir(out)
    print(f"Comparison finished: {out}  (forget class '{comparison['forget_class']}', "
          f"{len(comparison['methods'])} methods, {comparison['total_seconds']:.0f} s)")
    print(table_text(comparison))
    print("\nDifferences outside the noise (95 % intervals do not overlap); everything else is within it:")
    for line in comparison["findings"]:
        print(f"  - {line}")
    print(f"\nTable: {out / 'comparison.csv'}; everything: {out / 'comparison.json'}")
    return 0


def register_cli(subparsers) -> None:
    c = subparsers.add_parser("compare", help="run several unlearning methods on one request and compare them "
                                              "(with the deeper audits: KS vs oracle, RMIA, probe, relearning)")
    c.add_argument("--model", default="default", help="'default' (the demo classifier) or a local checkpoint directory")
    c.add_argument("--train", required=True, help="the training notes (the retain set is its other classes)")
    c.add_argument("--eval", required=True, help="held-out notes for the audits")
    c.add_argument("--forget-class", required=True, help="label name or id of the class to forget")
    c.add_argument("--forget", help="forget-set file (default: the training notes of the forget class)")
    c.add_argument("--out", help="new directory for the comparison (must not exist; default: a new one under "
                                 "the data directory's comparisons/, where the dashboard finds it)")
    c.add_argument("--methods", help=f"comma-separated methods (default: {','.join(DEFAULT_METHODS)}); "
                                     f"available: {', '.join(sorted(METHODS))}")
    c.add_argument("--settings", help="JSON object of per-method settings, e.g. "
                                      "'{\"steu\": {\"k\": 50}, \"retrain_oracle\": {\"epochs\": 3}}'")
    c.add_argument("--audits", help=f"comma-separated deep audits (default: all of {', '.join(sorted(DEEP_AUDITS))})")
    c.add_argument("--audit-settings", help="JSON object of per-audit settings, e.g. "
                                            "'{\"relearn\": {\"mode\": \"head\", \"max_steps\": 100}}'")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps")
    c.add_argument("--max-length", type=int, default=128, help="tokens per note (longer notes are truncated)")
    c.add_argument("--min-forget", type=int, default=10, help="fewest forget examples accepted")
    c.add_argument("--retain-sample", type=int, default=256, help="retain notes scored per model for the audits")
    c.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples per interval")
    c.add_argument("--no-cache", action="store_true", help="disable the exact feature cache in the runs")
    c.add_argument("--record-ledger", action="store_true", help="record each method's run in the ledger")
    c.add_argument("--request-id", default="", help="deletion request id (recorded with each run)")
    c.add_argument("--text-column", help="name of the text column (default: detected)")
    c.add_argument("--label-column", help="name of the label column (default: detected)")
    c.add_argument("--quiet", action="store_true", help="no progress lines")
    c.set_defaults(func=cmd_compare)
