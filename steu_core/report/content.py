"""What the report says, as one JSON-ready dict with every number already formatted (F1 and AUC with 4
decimals): the PDF prints these strings and :func:`build_json` writes the same dict, so the two agree."""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__, charts
from ..audits.deep_base import ORACLE, ORIGINAL
from ..deletion.summary import erasure_owed_note
from ..errors import ConfigError
from ..format import (FIELD_CHARS, change, count, interval, label, number, percent, printable, setting, to_number,
                      wall_time, when)
from ..methods import describe
from ..outputs import check_output_file, write_output
from ..phi import RARE_NOTES, mask_tokens, revealed_results
from ..result_keys import (CONF_AUC_AFTER, CONF_AUC_BEFORE, FORGET_F1_AFTER, FORGET_F1_BEFORE, LOSS_AUC_AFTER,
                           LOSS_AUC_BEFORE, LOSS_AUC_CI_AFTER, LOSS_AUC_CI_BEFORE, MACRO_F1_AFTER, MACRO_F1_BEFORE, MIA,
                           PER_CLASS_F1_AFTER, PER_CLASS_F1_BEFORE, RETAIN_F1_AFTER, RETAIN_F1_BEFORE,
                           TPR_AT_1PCT_FPR_AFTER, TPR_AT_1PCT_FPR_BEFORE)
from ..verdicts import RELEARN_QUESTION, VERDICT_WORDS, relearning
from .evidence import REPORT_SCHEMA, ledger_record, load_comparison, load_finished_run
from .summary import attack_table, measurement_notes, summary

# Limitations true of every method; a method's own limitations come first, and one with the same title
# replaces the general one (the retraining reference is retraining, so "What it does not do" differs).
GENERAL_LIMITATIONS = [
    ("What the figures show",
     "The F1 scores show how the model behaves on the held-out evaluation notes provided for this run, and the "
     "membership-inference scores show how well two standard attacks separate the forget-set notes from unseen "
     "notes of the same class. Both depend on those particular notes; other notes, or stronger attacks, "
     "can give other results."),
    ("What it does not do",
     "It does not delete any data, change the training files or other copies of the model, or cover "
     "information that the forgotten class shares with the classes that are kept. It is not the same as "
     "retraining the model without the data; where that is required, retrain and compare."),
]

# What the changed-rows chart's caption adds, by what the method edits (describe(name)["edits"])
ROWS_CAPTION = {"rows+head": "only these rows and the head changed.",
                "rows": "only these rows changed; the head did not.",
                "head": "this method changes no embedding row, only the head.",
                "everything": "this method changes every parameter and selects no tokens."}


def method_text(r: dict) -> dict:
    """What the run's method says about itself (:func:`steu_core.methods.describe`), or neutral words for a
    method this version does not know. A run without a method field predates the others: it is STEU."""
    name = str(r.get("method") or "steu")
    try:
        return describe(name)
    except ConfigError:
        return {"name": name, "label": name, "edits": None, "limitations": [],
                "description": f"'{name}' is not a method this version of STEU Audit knows.",
                "how": f"This run used the method '{name}', which this version of STEU Audit does not know, so the "
                       "report cannot describe how it works or what it leaves unchanged."}


def limitations(about: dict) -> list[dict]:
    """The method's own limitations, then the general ones it does not replace."""
    own = {item["title"]: item for item in about["limitations"]}
    general = [own.pop(title, {"title": title, "text": text}) for title, text in GENERAL_LIMITATIONS]
    return list(own.values()) + general


def chart_specs(r: dict) -> list[dict]:
    """The report's charts: id, the section that shows it, title, builder, size in pixels and caption."""
    return [
        {"id": "forget_retain_f1", "section": "charts", "title": "Forget vs. retain F1",
         "build": charts.forget_retain_f1, "size": (800, 470),
         "caption": "F1 on the held-out evaluation set before (grey) and after (teal) unlearning."},
        {"id": "per_class_f1", "section": "charts", "title": "F1 per class",
         "build": charts.per_class_f1, "size": (800, 470),
         "caption": "Each class's F1 on the evaluation set before (grey) and after (teal); the forgotten class is "
                    "in bold."},
        {"id": "confusion_matrices", "section": "charts", "title": "Confusion matrices",
         "build": charts.confusion_matrices, "size": (1000, max(520, 150 + 55 * len(r.get("labels") or []))),
         "caption": "Where the evaluation notes are predicted before and after (rows: true class; colour: share of "
                    "the row; numbers: notes). * marks the forgotten class."},
        *collateral_specs(r),
        {"id": "mia_roc", "section": "charts", "title": "Membership-inference ROC curves",
         "build": lambda res: charts.mia_roc(res, legend_beside=True), "size": (800, charts.ROC_WIDE_HEIGHT),
         "caption": ("Curves near the dotted diagonal mean the attacker cannot tell forget-set notes from unseen "
                     "notes of the same class.")},
        {"id": "changed_rows", "section": "charts", "title": "Changed embedding rows",
         "build": lambda res: charts.changed_rows(res, top=20), "size": (800, 500),
         "caption": _rows_caption(method_text(r)["edits"])},
        {"id": "changed_fraction", "section": "param_diff", "title": "Share of parameters changed",
         "build": charts.changed_fraction, "size": (820, 330),
         "caption": "Changed parameters against all parameters, on a log scale."},
    ]


COLLATERAL_CAPTIONS = {
    "retained_f1_with_intervals": (
        "Each retained class's F1 on the evaluation notes of the retained classes, before (grey) and after (teal), "
        "with 95 % bootstrap intervals: utility as the field measures it after forgetting a class, and what the "
        "usefulness verdict judges. ▼ marks a class whose change lies beyond its interval."),
    "forgotten_notes": (
        "Where the forgotten class's evaluation notes are predicted: they must go somewhere, and a model that never "
        "saw the class sends them somewhere too (amber, where a retrain without the forget notes exists). Shown "
        "apart: it decides no verdict."),
    "class_f1_with_intervals": (
        "A secondary view: every class's F1 over all evaluation notes, the forgotten class's re-routed notes "
        "included, so a class they go to loses precision without losing any of its own notes.")}


def collateral_specs(r: dict) -> list[dict]:
    """The collateral-damage charts, for runs that recorded per-class intervals (the retained-notes view for
    runs that recorded it)."""
    collateral = r.get("collateral") or {}
    if not collateral.get("per_class"):
        return []
    n = len(r.get("labels") or [])
    size = (800, max(320, 140 + 70 * n))
    retained = [{"id": "retained_f1_with_intervals", "section": "charts",
                 "title": "Collateral damage: F1 of every retained class", "build": charts.retained_f1_with_intervals,
                 "size": size, "caption": COLLATERAL_CAPTIONS["retained_f1_with_intervals"]}] \
        if (collateral.get("retained_notes") or {}).get("per_class") else []
    return retained + [
        {"id": "forgotten_notes", "section": "charts", "title": "Where the forgotten class's notes go",
         "build": charts.forgotten_notes, "size": (800, 470), "caption": COLLATERAL_CAPTIONS["forgotten_notes"]},
        {"id": "class_f1_with_intervals", "section": "charts", "title": "F1 of every class on all notes",
         "build": charts.class_f1_with_intervals, "size": size,
         "caption": COLLATERAL_CAPTIONS["class_f1_with_intervals"]}]


def _rows_caption(edits: str | None) -> str:
    said = "Selected tokens ranked by how far their embedding row moved (L2 norm of the change)"
    return f"{said}; {ROWS_CAPTION[edits]}" if edits in ROWS_CAPTION else f"{said}."


def report_content(run_dir: str | Path, organisation: str | None = None, reveal_tokens: bool = False) -> dict:
    """Everything the report says, as one JSON-ready dict with numbers already formatted. Free text (the
    request's fields, class names) is printable (steu_core.format.printable); identifier-like tokens are
    masked unless ``reveal_tokens`` (read back from the run's own tokenizer: a report for local use)."""
    run_dir = Path(run_dir)
    r = load_finished_run(run_dir)
    if reveal_tokens:
        r = revealed_results(r, run_dir)
    req = r.get("request") or {}
    mia = r.get("mia") or {}
    about = method_text(r)
    compared = load_comparison(run_dir)
    content = {
        "report_schema": REPORT_SCHEMA,
        "title": "Machine unlearning audit report",
        "subtitle": f"Removal of one class from a clinical text classifier ({about['label']})",
        "organisation": printable(organisation or os.environ.get("STEU_ORG") or "", FIELD_CHARS),
        "generated_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "generator": {"tool": "STEU Audit", "version": __version__},
        "run": {"run_id": printable(r.get("run_id", ""), FIELD_CHARS), "created_utc": r.get("created_utc", ""),
                "date": when(r.get("created_utc")), "tool_version": str(r.get("tool_version", ""))},
        "request": {k: printable(req.get(k) or "", FIELD_CHARS) for k in ("request_id", "requester", "reason",
                                                                          "operator")},
        "summary": summary(r, about["edits"]),
        "measurement_notes": measurement_notes(r),
        "erasure_owed": erasure_owed_note(str(req.get("request_id") or ""), r.get("method")),
        "model": _model_identity(r),
        "data": _data(r),
        "method": _method(r, about),
        "results_table": results_table(r),
        "per_class_f1": per_class_f1(r),
        "attacks": attack_table(r),
        "mia_note": (mia.get("skipped") or "") if isinstance(mia, dict) else "",
        "param_diff": _param_diff(r),
        "tokens": token_table(r, reveal_tokens),
        "changed_rows": changed_rows(r),
        "limitations": limitations(about) + relearn_limitation(compared, str(r.get("method") or "steu")),
        "ledger": ledger_record(str(r.get("run_id", ""))),
        "comparison": _comparison(compared),
        "charts": [{"id": c["id"], "title": c["title"], "caption": c["caption"]} for c in chart_specs(r)],
    }
    content["_results"] = r  # for the chart builders; never exported
    return content


def _model_identity(r: dict) -> dict:
    model, hashes = r.get("model") or {}, r.get("hashes") or {}
    return {
        "architecture": str(model.get("architecture", "")), "model_type": str(model.get("model_type", "")),
        "source": str(model.get("source", "")), "params_total": count(model.get("params_total", r.get("params_total"))),
        "labels": [label(x) for x in r.get("labels", [])],
        "sha256_before": str(model.get("sha256_before") or hashes.get("original_model", "")),
        "sha256_after": str(model.get("sha256_after") or hashes.get("unlearned_model", "")),
        "patch_sha256": str(hashes.get("patch", "")),
    }


def _dataset(d) -> dict | None:
    if not isinstance(d, dict):
        return None
    return {"name": str(d.get("name", "")), "rows": count(d.get("rows")), "sha256": str(d.get("sha256", ""))}


def _coverage_text(cov: dict) -> str:
    if not cov:
        return "n/a"
    return (f"{count(cov.get('forget_examples_with_selected_token'))} of {count(cov.get('forget_examples'))} "
            f"forget notes ({percent(cov.get('fraction'))}) contain at least one selected token")


def _data(r: dict) -> dict:
    data, mia = r.get("data") or {}, r.get("mia") or {}
    return {
        "forget": _dataset(data.get("forget")), "eval": _dataset(data.get("eval")), "train": _dataset(data.get("train")),
        "retain_rows": count(data.get("retain_rows")), "eval_rows": count(data.get("eval_rows")),
        "forget_set_sha256": str((r.get("hashes") or {}).get("forget_set", "")),
        "coverage": _coverage_text(r.get("coverage") or {}),
        "mia_members": count(mia.get("n_members")), "mia_nonmembers": count(mia.get("n_nonmembers")),
        "ids_file": _ids_file(data),
        "calibration_notes": count((data.get("calibration") or {}).get("notes")) if data.get("calibration") else None,
    }


def _ids_file(data: dict) -> dict | None:
    """The file of note ids that named the forget set (the one the requester handed in), with the SHA-256 of
    its bytes: what a regulator compares with ``sha256sum`` of the list they received."""
    ids = (data.get("forget_source") or {}).get("ids_file")
    if not isinstance(ids, dict):
        return None
    return {"name": printable(ids.get("name", ""), FIELD_CHARS), "ids": count(ids.get("ids")),
            "column": printable(ids.get("column", ""), FIELD_CHARS), "sha256": str(ids.get("sha256", ""))}


def _precision_text(p) -> str:
    """'float32 (exact)' or e.g. 'bfloat16 autocast for scoring and training (requested: bf16)'."""
    if not isinstance(p, dict):
        return "float32"
    scoring, training = str(p.get("scoring", "float32")), str(p.get("training", "float32"))
    if scoring == training == "float32":
        return "float32 (exact)"
    parts = ([f"{scoring} autocast for scoring and training"] if scoring == training else
             [f"scoring {scoring}", f"training {training}"])
    return ", ".join(parts) + f" (requested: {p.get('requested', '?')})"


def _training_text(tr: dict) -> str:
    if not tr:
        return "n/a"
    return (f"{count(tr.get('steps'))} of at most {count(tr.get('max_steps'))} steps"
            + (", stopped early when the targets were met" if tr.get("stopped_early") else ""))


def _budget_text(budget, edits: str | None) -> str:
    if to_number(budget) is not None:
        return percent(budget)
    return "not used (k given)" if edits in ("rows+head", "rows", None) else "not used"


def _method(r: dict, about: dict) -> dict:
    budget, ws = r.get("budget"), r.get("wall_seconds") or {}
    return {
        "name": str(r.get("method", "")), "label": about["label"], "description": about["description"],
        "how": about["how"], "edits": about["edits"], "limitations": about["limitations"],
        "forget_class": label(r.get("forget_class", "")),
        "forget_class_id": r.get("forget_class_id"),
        "k": count(r.get("k")), "budget": _budget_text(budget, about["edits"]),
        "seed": str(r.get("seed", "")), "device": str(r.get("device", "")),
        "precision": _precision_text(r.get("precision")),
        "settings": {str(k): setting(v) for k, v in sorted((r.get("method_settings") or {}).items())},
        "durations": {k: wall_time(ws.get(k)) for k in ("select", "unlearn", "audit", "total") if k in ws},
        "training": _training_text(r.get("training") or {}),
        "remarks": [str(x) for x in (r.get("notes") or []) if isinstance(x, str)][:10],
    }


def _score_row(metric: str, source: dict, before_key: str, after_key: str) -> dict:
    before, after = source.get(before_key), source.get(after_key)
    return {"metric": metric, "before": number(before), "after": number(after), "change": change(before, after),
            "before_value": to_number(before), "after_value": to_number(after)}


def results_table(r: dict) -> list[dict]:
    """The results table: F1 scores and membership-inference figures, before, after and the change."""
    mia = r.get(MIA) or {}
    return [
        _score_row(f"Forget F1 ('{label(r.get('forget_class', ''))}')", r, FORGET_F1_BEFORE, FORGET_F1_AFTER),
        _score_row("Retain F1 (other classes)", r, RETAIN_F1_BEFORE, RETAIN_F1_AFTER),
        _score_row("Macro F1 (all classes)", r, MACRO_F1_BEFORE, MACRO_F1_AFTER),
        _score_row("MIA loss AUC", mia, LOSS_AUC_BEFORE, LOSS_AUC_AFTER),
        {"metric": "MIA loss AUC, 95 % CI", "before": interval(mia.get(LOSS_AUC_CI_BEFORE)),
         "after": interval(mia.get(LOSS_AUC_CI_AFTER)), "change": "", "before_value": None, "after_value": None},
        _score_row("MIA TPR at 1 % FPR", mia, TPR_AT_1PCT_FPR_BEFORE, TPR_AT_1PCT_FPR_AFTER),
        _score_row("MIA confidence AUC", mia, CONF_AUC_BEFORE, CONF_AUC_AFTER),
    ]


def per_class_f1(r: dict) -> list[dict]:
    """F1 of every class before and after; the forgotten class is marked."""
    before, after = r.get(PER_CLASS_F1_BEFORE) or {}, r.get(PER_CLASS_F1_AFTER) or {}
    labels = r.get("labels") or list(before)
    return [{"label": label(lab), "forgotten": lab == r.get("forget_class"), "before": number(before.get(lab)),
             "after": number(after.get(lab)), "change": change(before.get(lab), after.get(lab))} for lab in labels]


def changed_rows(r: dict) -> list[dict]:
    """Every changed embedding row (the selected tokens), largest change first, formatted for the report;
    identifier-like tokens masked as in :func:`token_table`."""
    toks = sorted(mask_tokens(r.get("selected_tokens") or []), key=lambda t: -(to_number(t.get("l2_change")) or 0.0))
    return [{"token": printable(t.get("token", ""), 40), "row": row_id(t), "pmi": number(t.get("pmi")),
             "forget_notes": count(t.get("df_forget")), "all_notes": count(t.get("df_total")),
             "l2_change": number(t.get("l2_change"))} for t in toks]


def _param_diff(r: dict) -> dict:
    return {
        "verdict": str(r.get("param_diff_verdict", "n/a")).upper(),
        "message": str(r.get("param_diff_message", "")),
        "changed_tensors": [str(x) for x in r.get("changed_tensors", [])],
        "n_changed_tensors": len(r.get("changed_tensors", [])),
        "encoder_bit_identical": "yes" if r.get("encoder_unchanged") else "no",
        "changed_embedding_rows": count(r.get("changed_embedding_rows")),
        "params_changed": count(r.get("params_changed")), "params_total": count(r.get("params_total")),
        "fraction_changed": percent(r.get("params_changed_fraction")),
    }


def row_id(t: dict) -> str:
    """A token's embedding row (its vocabulary id) as printed: "masked" for a masked token, whose id
    would give its text back through the public vocabulary."""
    return "masked" if t.get("masked") or t.get("id") is None else str(t["id"])


TOKEN_ROWS = 30  # the report lists the tokens whose rows moved most; results.json holds them all


def token_table(r: dict, revealed: bool = False, top: int = TOKEN_ROWS) -> dict:
    """The selected tokens whose rows moved most, formatted; identifier-like ones masked (steu_core.phi)."""
    tokens = mask_tokens(r.get("selected_tokens") or [])
    ranked = sorted(tokens, key=lambda t: -(to_number(t.get("l2_change")) or 0.0))[:top]
    rows = [{"token": printable(t.get("token", ""), 40), "id": row_id(t), "pmi": number(t.get("pmi"), 3),
             "df_forget": count(t.get("df_forget")), "df_total": count(t.get("df_total")),
             "l2_change": number(t.get("l2_change")), "masked": bool(t.get("masked")),
             "revealed": bool(t.get("revealed"))} for t in ranked]
    n_masked = sum(1 for t in tokens if t.get("masked") or t.get("revealed"))
    if revealed:
        note = (f"{n_masked} identifier-like token(s) are shown in clear (report --reveal-tokens): keep this report "
                "on this machine.")
    else:
        note = (f"{n_masked} of {len(tokens)} selected tokens look like identifiers (they contain a digit, or occur "
                f"in fewer than {RARE_NOTES} forget notes) and are shown masked, without their vocabulary id; they "
                "were edited like the others. 'report --reveal-tokens' shows them from the run's own patch and "
                "tokenizer.")
    return {"rows": rows, "total": len(tokens), "masked": n_masked, "revealed": revealed, "note": note}


def _comparison(rows: list[dict] | None) -> list[dict] | None:
    if not rows:
        return None
    return [{"method": str(row.get("method", "")), "forget_f1": number(row.get("forget_f1")),
             "retain_f1": number(row.get("retain_f1")), "params_changed_fraction": percent(row.get("params_changed_fraction")),
             "wall_seconds": wall_time(row.get("wall_seconds")),
             "relearn": str(row.get("relearn_strongest_text") or "n/a")} for row in rows]


def relearn_limitation(rows: list[dict] | None, method: str) -> list[dict]:
    """What the strongest relearning attacker measured in the run's comparison says about this method."""
    by = {row.get("method"): row for row in rows or []}
    row = by.get(method)
    if not row or row.get("relearn_strongest_text") is None:
        return []
    text = (f"Against the strongest relearning attacker measured ({row.get('relearn_strongest_attack')}), an attacker "
            f"holding the new model and a few notes of the forgotten class brought it back after a median of "
            f"{row['relearn_strongest_text']} steps of fine-tuning (interval {row.get('relearn_strongest_ci_text')}).")
    judged = row.get("relearn_verdict") or relearning(row, by.get(ORACLE), by.get(ORIGINAL))
    if method != ORACLE:
        text += f" {RELEARN_QUESTION} {VERDICT_WORDS[judged['verdict']]}: {judged['reason']}."
    return [{"title": "Relearning", "text": text}]


def exported(content: dict) -> dict:
    """The content without its private keys (``_results``): what the JSON file holds."""
    return {k: v for k, v in content.items() if not k.startswith("_")}


def build_json(run_dir: str | Path, out_json: str | Path, organisation: str | None = None,
               content: dict | None = None, overwrite: bool = False) -> Path:
    """Write the report's content as JSON (the same formatted numbers as the PDF); an existing file is replaced
    only with ``overwrite`` (steu_core.outputs)."""
    check_output_file(out_json, "--json", overwrite)  # before the content is built
    content = content or report_content(run_dir, organisation)
    data = json.dumps(exported(content), indent=2, ensure_ascii=False).encode("utf-8")
    return write_output(out_json, data, "--json", overwrite)
