"""The audit report of one finished run: a PDF for the compliance file and the same content as JSON.

Everything comes from the run directory (``results.json``, optionally ``comparison.json``) and the
ledger; no data file is ever opened, so no note text can reach the report. :func:`report_content` builds
one dict holding every number already formatted (F1 and AUC with 4 decimals); the PDF prints those
strings and :func:`build_json` writes that dict, so the two always agree.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError
from .format import (change, count, interval, number, percent, setting, to_number, wall_time, when,
                     wrap_hash)

REPORT_SCHEMA = 1
FORGOTTEN_F1 = 0.05       # a class whose F1 is at or below this is no longer recognised
UTILITY_KEPT = 0.02       # retain-F1 drops up to this are reported as "kept"
UTILITY_MOSTLY = 0.05     # ... up to this as "mostly kept"

REQUIRED_KEYS = ("run_id", "labels", "forget_class", "forget_f1_before", "forget_f1_after", "retain_f1_before",
                 "retain_f1_after", "macro_f1_before", "macro_f1_after", "params_total", "params_changed",
                 "params_changed_fraction")

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
TEAL = (15, 124, 140)
GREY = (95, 99, 104)
LIGHT = (236, 243, 244)


# -- loading --------------------------------------------------------------------------------------
def load_finished_run(run_dir: str | Path) -> dict:
    """results.json of a finished run, or a ConfigError that says what is wrong with ``run_dir``."""
    run = Path(run_dir).expanduser()
    hint = "Give the --out directory of a completed unlearn run (it holds results.json)."
    if not run.exists():
        partial = run.parent / f".{run.name}.partial"
        if partial.is_dir():
            state = "is still running"
            try:
                prog = json.loads((partial / "progress.json").read_text())
                state = {"running": "is still running", "failed": "failed", "cancelled": "was cancelled"}.get(
                    prog.get("state"), "did not finish")
                if prog.get("message") and prog.get("state") != "running":
                    state += f" ({prog['message']})"
            except (OSError, json.JSONDecodeError, AttributeError):
                pass
            raise ConfigError(f"'{run}' is not a finished run: the run writing to it {state}.", hint=hint)
        raise ConfigError(f"run directory '{run}' does not exist.", hint=hint)
    if not run.is_dir():
        raise ConfigError(f"'{run}' is not a directory.", hint=hint)
    path = run / "results.json"
    if not path.is_file():
        raise ConfigError(f"'{run}' is not a finished run (no results.json).", hint=hint)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"'{path}' cannot be read: {exc}.", hint="The run directory may be damaged; rerun.") from None
    if not isinstance(results, dict):
        raise ConfigError(f"'{path}' does not hold a results object.")
    if results.get("schema_version") not in (None, REPORT_SCHEMA):
        raise ConfigError(f"'{path}' has schema_version {results.get('schema_version')}; this report reads "
                          f"version {REPORT_SCHEMA}.", hint="Use the STEU Audit version that wrote the run.")
    missing = [k for k in REQUIRED_KEYS if k not in results]
    if missing:
        raise ConfigError(f"'{path}' lacks {', '.join(missing)}.", hint="It was not written by a finished run.")
    return results


def load_comparison(run_dir: str | Path) -> list[dict] | None:
    """Rows of ``comparison.json`` if the run directory has one (a list, or {"rows": [...]})."""
    path = Path(run_dir) / "comparison.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        return None
    return [r for r in rows if isinstance(r, dict)] or None


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


def ledger_record(run_id: str) -> dict:
    """The ledger entry of kind "run" for ``run_id`` and the state of the chain (never raises)."""
    try:
        from .ledger import Ledger

        ledger = Ledger()
        entry = ledger.find_run(run_id)
        check = ledger.verify()
    except Exception as exc:  # a missing or unreadable ledger must not stop the report
        return {"recorded": False, "text": "not recorded", "error": f"ledger unreadable: {type(exc).__name__}"}
    chain = (f"intact ({check.n_entries} entries)" if check.ok else
             f"BROKEN at entry {check.first_broken_seq}: {check.reason}")
    if entry is None:
        return {"recorded": False, "text": "not recorded", "ledger_path": str(ledger.path), "chain": chain}
    return {"recorded": True, "text": entry["entry_hash"], "entry_hash": entry["entry_hash"], "seq": entry["seq"],
            "ts_utc": entry["ts_utc"], "outcome": entry["payload"].get("outcome", ""),
            "prev_hash": entry["prev_hash"], "ledger_path": str(ledger.path), "chain": chain}


# -- content --------------------------------------------------------------------------------------
def _summary(r: dict) -> list[dict]:
    fc = r.get("forget_class", "")
    fb, fa = to_number(r.get("forget_f1_before")), to_number(r.get("forget_f1_after"))
    rb, ra = to_number(r.get("retain_f1_before")), to_number(r.get("retain_f1_after"))
    n_eval = (r.get("data") or {}).get("eval_rows")
    on_eval = f"on {count(n_eval)} held-out evaluation notes" if n_eval else "on the held-out evaluation notes"
    out = []

    if fa is None or fb is None:
        verdict, text = "Unknown", "The forget F1 was not recorded."
    elif fa <= FORGOTTEN_F1:
        verdict = "Yes"
        text = (f"The model no longer recognises the class '{fc}'. Its F1 score for the class {on_eval} fell from "
                f"{number(fb)} before to {number(fa)} after (a class counts as forgotten here when its F1 is at or below "
                f"{FORGOTTEN_F1:.2f}).")
    elif fa < fb:
        verdict = "Partly"
        text = (f"The model recognises the class '{fc}' less well, but not fully suppressed: its F1 {on_eval} went "
                f"from {number(fb)} to {number(fa)}, above the {FORGOTTEN_F1:.2f} used here to call a class forgotten.")
    else:
        verdict = "No"
        text = (f"The model still recognises the class '{fc}': its F1 {on_eval} went from {number(fb)} to {number(fa)}.")
    out.append({"question": "Was the class forgotten?", "verdict": verdict, "text": text})

    if ra is None or rb is None:
        verdict, text = "Unknown", "The retain F1 was not recorded."
    else:
        drop = rb - ra
        went = f"the F1 over the other classes went from {number(rb)} to {number(ra)} (change {change(rb, ra)})"
        if drop <= UTILITY_KEPT:
            verdict, text = "Yes", f"The model works as before on everything else: {went}."
        elif drop <= UTILITY_MOSTLY:
            verdict, text = "Mostly", f"The model works nearly as before on everything else: {went}."
        else:
            verdict = "Reduced"
            text = (f"The model lost some accuracy on the other classes: {went}. Part of such a drop can come "
                    f"from notes of '{fc}' that the model now assigns to other classes, which lowers those "
                    "classes' precision (see the per-class F1 table).")
    out.append({"question": "Was the model's usefulness kept?", "verdict": verdict, "text": text})

    frac, rows = r.get("params_changed_fraction"), r.get("changed_embedding_rows")
    enc = r.get("encoder_unchanged")
    enc_text = ("Every encoder parameter is bit-identical to the original, checked tensor by tensor."
                if enc else "WARNING: encoder parameters changed (see the verification section).")
    out.append({"question": "How much of the model changed?",
                "verdict": percent(frac),
                "text": (f"{count(r.get('params_changed'))} of {count(r.get('params_total'))} parameters "
                         f"({percent(frac)}): {count(rows)} rows of the input token-embedding matrix and the "
                         f"classification head. {enc_text}")})

    mia = r.get("mia") or {}
    if to_number(mia.get("loss_auc_after")) is not None:
        after = to_number(mia["loss_auc_after"])
        lo_hi = mia.get("loss_auc_ci_after") or [None, None]
        near = lo_hi[0] is not None and to_number(lo_hi[0]) <= 0.5 <= to_number(lo_hi[1])
        text = (f"A membership-inference attacker who tries to tell the forget-set notes from unseen notes of the "
                f"same class scores an AUC of {number(mia.get('loss_auc_before'))} before and {number(after)} after "
                f"(0.5 means guessing; 95 % CI after {interval(mia.get('loss_auc_ci_after'))}).")
        verdict = "At chance" if near else ("Above chance" if after > 0.5 else "Below chance")
        out.append({"question": "Can an attacker still detect the forgotten notes?", "verdict": verdict,
                    "text": text})
    return out


def _results_table(r: dict) -> list[dict]:
    fc = r.get("forget_class", "")
    mia = r.get("mia") or {}
    rows = [
        {"metric": f"Forget F1 ('{fc}')", "before": number(r.get("forget_f1_before")),
         "after": number(r.get("forget_f1_after")), "change": change(r.get("forget_f1_before"), r.get("forget_f1_after"))},
        {"metric": "Retain F1 (other classes)", "before": number(r.get("retain_f1_before")),
         "after": number(r.get("retain_f1_after")), "change": change(r.get("retain_f1_before"), r.get("retain_f1_after"))},
        {"metric": "Macro F1 (all classes)", "before": number(r.get("macro_f1_before")),
         "after": number(r.get("macro_f1_after")), "change": change(r.get("macro_f1_before"), r.get("macro_f1_after"))},
        {"metric": "MIA loss AUC", "before": number(mia.get("loss_auc_before")), "after": number(mia.get("loss_auc_after")),
         "change": change(mia.get("loss_auc_before"), mia.get("loss_auc_after"))},
        {"metric": "MIA loss AUC, 95 % CI", "before": interval(mia.get("loss_auc_ci_before")),
         "after": interval(mia.get("loss_auc_ci_after")), "change": ""},
        {"metric": "MIA TPR at 1 % FPR", "before": number(mia.get("tpr_at_1pct_fpr_before")),
         "after": number(mia.get("tpr_at_1pct_fpr_after")),
         "change": change(mia.get("tpr_at_1pct_fpr_before"), mia.get("tpr_at_1pct_fpr_after"))},
        {"metric": "MIA confidence AUC", "before": number(mia.get("conf_auc_before")),
         "after": number(mia.get("conf_auc_after")), "change": change(mia.get("conf_auc_before"), mia.get("conf_auc_after"))},
    ]
    for row in rows:
        row["before_value"], row["after_value"] = None, None
    keys = [("forget_f1_before", "forget_f1_after"), ("retain_f1_before", "retain_f1_after"),
            ("macro_f1_before", "macro_f1_after")]
    for row, (kb, ka) in zip(rows, keys):
        row["before_value"], row["after_value"] = to_number(r.get(kb)), to_number(r.get(ka))
    for row, (kb, ka) in zip(rows[3:], [("loss_auc_before", "loss_auc_after"), (None, None),
                                        ("tpr_at_1pct_fpr_before", "tpr_at_1pct_fpr_after"),
                                        ("conf_auc_before", "conf_auc_after")]):
        if kb:
            row["before_value"], row["after_value"] = to_number(mia.get(kb)), to_number(mia.get(ka))
    return rows


def _per_class(r: dict) -> list[dict]:
    before, after = r.get("per_class_f1_before") or {}, r.get("per_class_f1_after") or {}
    labels = r.get("labels") or list(before)
    return [{"label": lab, "forgotten": lab == r.get("forget_class"), "before": number(before.get(lab)),
             "after": number(after.get(lab)), "change": change(before.get(lab), after.get(lab))} for lab in labels]


LIMITATIONS = [
    ("What STEU changes",
     "STEU edits only the classification head and a small number of rows of the input token-embedding matrix, "
     "the rows of the words most specific to the forgotten class. The encoder (every attention and "
     "feed-forward layer) is not touched, and this report shows that it is bit-identical to the original."),
    ("What that means",
     "The removal is behavioural suppression: the model stops predicting the class. It is not proof that "
     "information about the class is gone from the model. The encoder's internal representations are "
     "unchanged, so a new classifier trained on top of them, or a small amount of fine-tuning, may recover "
     "the class. The class also keeps its output slot in the head."),
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


def _chart_specs(r: dict) -> list[dict]:
    from . import charts

    return [
        {"id": "forget_retain_f1", "section": "charts", "title": "Forget vs. retain F1",
         "build": charts.forget_retain_f1, "size": (800, 470),
         "caption": "F1 on the held-out evaluation set before (grey) and after (teal) unlearning."},
        {"id": "mia_roc", "section": "charts", "title": "Membership-inference ROC curves",
         "build": charts.mia_roc, "size": (640, 760),
         "caption": ("Curves near the dotted diagonal mean the attacker cannot tell forget-set notes from unseen "
                     "notes of the same class.")},
        {"id": "changed_rows", "section": "charts", "title": "Changed embedding rows",
         "build": lambda res: charts.changed_rows(res, top=30), "size": (800, 900),
         "caption": ("Selected tokens ranked by how far their embedding row moved (L2 norm of the change); "
                     "only these rows and the head changed.")},
        {"id": "changed_fraction", "section": "param_diff", "title": "Share of parameters changed",
         "build": charts.changed_fraction, "size": (820, 330),
         "caption": "Changed parameters against all parameters, on a log scale."},
    ]


def report_content(run_dir: str | Path, organisation: str | None = None) -> dict:
    """Everything the report says, as one JSON-ready dict with numbers already formatted."""
    run_dir = Path(run_dir)
    r = load_finished_run(run_dir)
    org = organisation or os.environ.get("STEU_ORG") or ""
    req = r.get("request") or {}
    model = r.get("model") or {}
    data = r.get("data") or {}
    hashes = r.get("hashes") or {}
    cov = r.get("coverage") or {}
    ws = r.get("wall_seconds") or {}
    tr = r.get("training") or {}
    mia = r.get("mia") or {}
    budget = r.get("budget")

    def dataset(key: str) -> dict | None:
        d = data.get(key)
        if not isinstance(d, dict):
            return None
        return {"name": str(d.get("name", "")), "rows": count(d.get("rows")), "sha256": str(d.get("sha256", ""))}

    content = {
        "report_schema": REPORT_SCHEMA,
        "title": "Machine unlearning audit report",
        "subtitle": "Removal of one class from a clinical text classifier (STEU)",
        "organisation": org,
        "generated_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "generator": {"tool": "STEU Audit", "version": __version__},
        "run": {"run_id": str(r.get("run_id", "")), "created_utc": r.get("created_utc", ""),
                "date": when(r.get("created_utc")), "tool_version": str(r.get("tool_version", ""))},
        "request": {k: str(req.get(k) or "") for k in ("request_id", "requester", "reason", "operator")},
        "summary": _summary(r),
        "model": {
            "architecture": str(model.get("architecture", "")), "model_type": str(model.get("model_type", "")),
            "source": str(model.get("source", "")), "params_total": count(model.get("params_total",
                                                                                    r.get("params_total"))),
            "labels": [str(x) for x in r.get("labels", [])],
            "sha256_before": str(model.get("sha256_before") or hashes.get("original_model", "")),
            "sha256_after": str(model.get("sha256_after") or hashes.get("unlearned_model", "")),
            "patch_sha256": str(hashes.get("patch", "")),
        },
        "data": {
            "forget": dataset("forget"), "eval": dataset("eval"), "train": dataset("train"),
            "retain_rows": count(data.get("retain_rows")), "eval_rows": count(data.get("eval_rows")),
            "forget_set_sha256": str(hashes.get("forget_set", "")),
            "coverage": (f"{count(cov.get('forget_examples_with_selected_token'))} of "
                         f"{count(cov.get('forget_examples'))} forget notes ({percent(cov.get('fraction'))}) contain at "
                         "least one selected token") if cov else "n/a",
            "mia_members": count(mia.get("n_members")), "mia_nonmembers": count(mia.get("n_nonmembers")),
        },
        "method": {
            "name": str(r.get("method", "")), "forget_class": str(r.get("forget_class", "")),
            "forget_class_id": r.get("forget_class_id"),
            "k": count(r.get("k")), "budget": percent(budget) if to_number(budget) is not None else "not used (k given)",
            "seed": str(r.get("seed", "")), "device": str(r.get("device", "")),
            "precision": _precision_text(r.get("precision")),
            "settings": {str(k): setting(v) for k, v in sorted((r.get("method_settings") or {}).items())},
            "durations": {k: wall_time(ws.get(k)) for k in ("select", "unlearn", "audit", "total") if k in ws},
            "training": (f"{count(tr.get('steps'))} of at most {count(tr.get('max_steps'))} steps"
                         + (", stopped early when the targets were met" if tr.get("stopped_early") else ""))
            if tr else "n/a",
            "remarks": [str(x) for x in (r.get("notes") or []) if isinstance(x, str)][:10],
        },
        "results_table": _results_table(r),
        "per_class_f1": _per_class(r),
        "mia_note": (mia.get("skipped") or "") if isinstance(mia, dict) else "",
        "param_diff": {
            "verdict": str(r.get("param_diff_verdict", "n/a")).upper(),
            "message": str(r.get("param_diff_message", "")),
            "changed_tensors": [str(x) for x in r.get("changed_tensors", [])],
            "n_changed_tensors": len(r.get("changed_tensors", [])),
            "encoder_bit_identical": "yes" if r.get("encoder_unchanged") else "no",
            "changed_embedding_rows": count(r.get("changed_embedding_rows")),
            "params_changed": count(r.get("params_changed")), "params_total": count(r.get("params_total")),
            "fraction_changed": percent(r.get("params_changed_fraction")),
        },
        "limitations": [{"title": t, "text": x} for t, x in LIMITATIONS],
        "ledger": ledger_record(str(r.get("run_id", ""))),
        "comparison": None,
        "charts": [{"id": c["id"], "title": c["title"], "caption": c["caption"]} for c in _chart_specs(r)],
    }
    comp = load_comparison(run_dir)
    if comp:
        content["comparison"] = [{
            "method": str(row.get("method", "")), "forget_f1": number(row.get("forget_f1")),
            "retain_f1": number(row.get("retain_f1")), "params_changed_fraction": percent(row.get("params_changed_fraction")),
            "wall_seconds": wall_time(row.get("wall_seconds"))} for row in comp]
    content["_results"] = r  # for the chart builders; never exported
    return content


def _export(content: dict) -> dict:
    return {k: v for k, v in content.items() if not k.startswith("_")}


def build_json(run_dir: str | Path, out_json: str | Path, organisation: str | None = None,
               content: dict | None = None) -> Path:
    """Write the report's content as JSON (the same formatted numbers as the PDF)."""
    content = content or report_content(run_dir, organisation)
    out = Path(out_json)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(_export(content), indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out)
    return out


# -- PDF ------------------------------------------------------------------------------------------
class _Doc:
    """fpdf2 with the report's fonts, header, footer and a few layout helpers."""

    def __init__(self, content: dict):
        from fpdf import FPDF

        self.content = content
        doc = self

        class PDF(FPDF):
            def header(self):
                if self.page_no() == 1:
                    return
                self.set_font(doc.sans, "", 8)
                self.set_text_color(*GREY)
                left = "STEU Audit report"
                if doc.content.get("organisation"):
                    left += f"  -  {doc.content['organisation']}"
                self.cell(self.epw / 2, 6, doc.t(left), align="L")
                self.cell(self.epw / 2, 6, doc.t(f"Request {doc.content['request']['request_id'] or 'n/a'}"),
                          align="R", new_x="LMARGIN", new_y="NEXT")
                self.set_draw_color(*TEAL)
                self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
                self.ln(4)
                self.set_text_color(0, 0, 0)

            def footer(self):
                self.set_y(-14)
                self.set_font(doc.sans, "", 8)
                self.set_text_color(*GREY)
                self.cell(self.epw / 2, 6, doc.t(f"Run {doc.content['run']['run_id']}"), align="L")
                self.cell(self.epw / 2, 6, f"Page {self.page_no()} of {{nb}}", align="R")
                self.set_text_color(0, 0, 0)

        pdf = PDF(orientation="P", unit="mm", format="A4")
        pdf.set_margins(20, 18, 20)
        pdf.set_auto_page_break(True, margin=20)
        pdf.set_title(content["title"])
        pdf.set_author(content.get("organisation") or "STEU Audit")
        pdf.set_creator(f"STEU Audit {__version__}")
        pdf.set_subject(f"Run {content['run']['run_id']}")
        self.unicode = all((FONT_DIR / f).is_file() for f in
                           ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSansMono.ttf"))
        if self.unicode:
            pdf.add_font("dejavu", "", str(FONT_DIR / "DejaVuSans.ttf"))
            pdf.add_font("dejavu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
            pdf.add_font("dejavu", "I", str(FONT_DIR / "DejaVuSans-Oblique.ttf"))
            pdf.add_font("dejavumono", "", str(FONT_DIR / "DejaVuSansMono.ttf"))
            self.sans, self.mono = "dejavu", "dejavumono"
        else:
            self.sans, self.mono = "helvetica", "courier"
        self.pdf = pdf

    def t(self, s: Any) -> str:
        """Text the font can draw: as is with DejaVu; otherwise Latin-1 with substitutes."""
        s = "" if s is None else str(s)
        if self.unicode:
            return s
        for a, b in (("\u2013", "-"), ("\u2014", "-"), ("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'),
                     ("\u201d", '"'), ("\u2022", "-"), ("\u2192", "->"), ("\u2212", "-"), ("\u2026", "...")):
            s = s.replace(a, b)
        return s.encode("latin-1", "replace").decode("latin-1")

    # layout helpers
    def space_for(self, h: float) -> None:
        if self.pdf.get_y() + h > self.pdf.page_break_trigger:
            self.pdf.add_page()

    def h1(self, text: str, keep: float = 45) -> None:
        """A section heading; starts a new page unless ``keep`` mm fit below it."""
        self.space_for(keep)
        pdf = self.pdf
        pdf.ln(3)
        pdf.set_font(self.sans, "B", 15)
        pdf.set_text_color(*TEAL)
        pdf.multi_cell(0, 8, self.t(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1.5)

    def h2(self, text: str) -> None:
        self.space_for(25)
        pdf = self.pdf
        pdf.ln(1)
        pdf.set_font(self.sans, "B", 11.5)
        pdf.multi_cell(0, 6.5, self.t(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(0.5)

    def para(self, text: str, size: float = 10, style: str = "", color=(0, 0, 0), h: float = 5.2) -> None:
        pdf = self.pdf
        pdf.set_font(self.sans, style, size)
        pdf.set_text_color(*color)
        pdf.multi_cell(0, h, self.t(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1.5)

    def kv(self, rows: list[tuple[str, str, bool]], key_w: float = 48, size: float = 10) -> None:
        """Key / value table without borders; the third item marks a monospace (hash) value."""
        from fpdf.fonts import FontFace

        pdf = self.pdf
        lines = sum(max(2 if mono else 1, str(value).count("\n") + 1 + len(str(value)) // 70)
                    for _, value, mono in rows)
        self.space_for(min(lines * 5.4 + len(rows) * 2.4 + 4, 110))  # keep short tables on one page
        pdf.set_font(self.sans, "", size)
        pdf.set_fill_color(255, 255, 255)
        pdf.set_draw_color(200, 205, 208)
        white = (255, 255, 255)
        key_style = FontFace(family=self.sans, emphasis="BOLD", color=GREY, fill_color=white)
        value_style = FontFace(family=self.sans, fill_color=white)
        mono_style = FontFace(family=self.mono, size_pt=size - 0.5, fill_color=white)
        with pdf.table(col_widths=(key_w, pdf.epw - key_w), width=pdf.epw, first_row_as_headings=False,
                       borders_layout="HORIZONTAL_LINES", line_height=5.4, text_align=("LEFT", "LEFT"),
                       padding=(1.2, 1.5, 1.2, 0)) as table:
            for key, value, mono in rows:
                row = table.row()
                row.cell(self.t(key), style=key_style)
                if mono:
                    row.cell(self.t(wrap_hash(value)), style=mono_style)
                else:
                    row.cell(self.t(value if value not in (None, "") else "n/a"), style=value_style)
        pdf.ln(3)

    def grid(self, header: list[str], rows: list[list[str]], widths: list[float], align: list[str] | None = None,
             size: float = 9.5, bold_rows: set[int] | None = None) -> None:
        from fpdf.fonts import FontFace

        pdf = self.pdf
        self.space_for(min(8 + 6.5 * (len(rows) + 1), 120))  # keep short tables on one page
        pdf.set_font(self.sans, "", size)
        pdf.set_fill_color(255, 255, 255)
        pdf.set_draw_color(200, 205, 208)
        head = FontFace(family=self.sans, emphasis="BOLD", color=(255, 255, 255), fill_color=TEAL)
        with pdf.table(col_widths=widths, width=sum(widths), align="LEFT", headings_style=head, line_height=5.4,
                       text_align=tuple(align or ["LEFT"] * len(widths)), borders_layout="SINGLE_TOP_LINE",
                       padding=(1.2, 1.5)) as table:
            hr = table.row()
            for h in header:
                hr.cell(self.t(h))
            for i, values in enumerate(rows):
                # every cell gets its own fill: fpdf2 would otherwise reuse the heading's fill colour
                style = FontFace(family=self.sans, emphasis="BOLD" if bold_rows and i in bold_rows else None,
                                 fill_color=LIGHT if i % 2 == 0 else (255, 255, 255))
                row = table.row()
                for v in values:
                    row.cell(self.t(v), style=style)
        pdf.ln(3)

    def _image_box(self, w_px: int, h_px: int, max_w: float | None) -> tuple[float, float]:
        pdf = self.pdf
        w = min(max_w or pdf.epw, pdf.epw)
        h = w * h_px / w_px
        limit = pdf.page_break_trigger - pdf.t_margin - 30
        if h > limit:
            h = limit
            w = h * w_px / h_px
        return w, h

    def image_height(self, w_px: int, h_px: int, max_w: float | None = None) -> float:
        return self._image_box(w_px, h_px, max_w)[1]

    def image(self, path: Path, w_px: int, h_px: int, caption: str, max_w: float | None = None) -> None:
        pdf = self.pdf
        w, h = self._image_box(w_px, h_px, max_w)
        self.space_for(h + 12)
        x = pdf.l_margin + (pdf.epw - w) / 2
        pdf.image(str(path), x=x, y=pdf.get_y(), w=w, h=h)
        pdf.set_y(pdf.get_y() + h + 1.5)
        self.para(caption, size=8.5, style="I", color=GREY, h=4.4)


def _render_charts(content: dict, workdir: Path) -> dict[str, Path | str]:
    """PNG files of every chart, keyed by chart id; an error message instead where rendering failed."""
    from . import charts

    specs = _chart_specs(content["_results"])
    items, out = [], {}
    for spec in specs:
        try:
            fig = spec["build"](content["_results"])
        except Exception as exc:  # a malformed field must not lose the whole report
            out[spec["id"]] = f"chart could not be built ({type(exc).__name__}: {str(exc)[:120]})"
            continue
        w, h = spec["size"]
        if fig.layout.height:  # figures that size themselves to their content
            h = int(fig.layout.height)
        items.append((fig, workdir / f"{spec['id']}.png", w, h))
    try:
        charts.to_pngs(items, scale=2.0)
        for fig, path, w, h in items:
            out[path.stem] = path
    except Exception as exc:  # no Chromium for kaleido: the report still comes out, without images
        for fig, path, w, h in items:
            out[path.stem] = f"chart could not be rendered ({type(exc).__name__}: {str(exc)[:160]})"
    return out


def build_report(run_dir: str | Path, out_pdf: str | Path, organisation: str | None = None,
                 json_out: str | Path | None = None, record_ledger: bool = True) -> Path:
    """Write the PDF report of the finished run in ``run_dir`` to ``out_pdf`` (and the JSON, if asked).

    With ``record_ledger`` (the default) the PDF's SHA-256 is appended to the ledger (kind "report")
    before the file takes its name, so whoever receives the PDF can check it against the ledger; if
    that fails, no PDF is left behind.
    """
    content = report_content(run_dir, organisation)
    out_pdf = Path(out_pdf)
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="steu-report-"))
    try:
        images = _render_charts(content, workdir)
        sizes = {s["id"]: s["size"] for s in _chart_specs(content["_results"])}
        for cid, img in images.items():
            if isinstance(img, Path):
                from struct import unpack

                with open(img, "rb") as f:
                    f.seek(16)
                    sizes[cid] = unpack(">II", f.read(8))
        doc = _Doc(content)
        _write_pdf(doc, content, images, sizes)
        tmp = out_pdf.with_name(f".{out_pdf.name}.tmp")
        doc.pdf.output(str(tmp))
        try:
            if record_ledger:
                record_report(content, tmp)
            os.replace(tmp, out_pdf)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if json_out:
        build_json(run_dir, json_out, organisation, content=content)
    return out_pdf


def record_report(content: dict, pdf: Path) -> dict:
    """Append a "report" entry to the ledger: the run, its own ledger entry and the PDF's SHA-256."""
    from .ledger import Ledger
    from .model import file_sha256

    r = content["_results"]
    payload = {"run_id": str(r.get("run_id", "")), "request_id": str((r.get("request") or {}).get("request_id", "")),
               "pdf_sha256": file_sha256(pdf), "pdf_bytes": pdf.stat().st_size,
               "run_entry_hash": (content.get("ledger") or {}).get("entry_hash"), "tool_version": __version__}
    try:
        return Ledger().append("report", payload)
    except Exception as exc:
        raise ConfigError(f"the report could not be recorded in the ledger ({type(exc).__name__}: {exc}); "
                          "no PDF was written.", hint="Check that the data directory (STEU_HOME) is writable, or "
                                                      "run 'python -m steu_core ledger verify'.") from None


def _write_pdf(doc: _Doc, c: dict, images: dict, sizes: dict) -> None:
    pdf, t = doc.pdf, doc.t
    req, run = c["request"], c["run"]

    # 1. Title page
    pdf.add_page()
    pdf.set_fill_color(*TEAL)
    pdf.rect(0, 0, pdf.w, 8, style="F")
    pdf.set_fill_color(255, 255, 255)
    pdf.set_y(45)
    if c["organisation"]:
        doc.para(c["organisation"], size=14, style="B", color=GREY)
    pdf.set_font(doc.sans, "B", 24)
    pdf.set_text_color(*TEAL)
    pdf.multi_cell(0, 11, t(c["title"]), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    doc.para(c["subtitle"], size=13, color=GREY)
    pdf.ln(10)
    doc.kv([
        ("Request ID", req["request_id"], False),
        ("Requester", req["requester"], False),
        ("Reason", req["reason"], False),
        ("Date of run", run["date"], False),
        ("Report generated", when(c["generated_utc"]), False),
        ("Operator", req["operator"], False),
        ("Forgotten class", c["method"]["forget_class"], False),
        ("Run ID", run["run_id"], False),
        ("Tool version", f"STEU Audit {c['generator']['version']} (run written by {run['tool_version'] or 'n/a'})",
         False),
    ], key_w=45, size=11)
    pdf.set_y(max(pdf.get_y() + 8, 235))
    doc.para("This report is generated from the run's results file and the tool's hash-chained ledger. It contains "
             "no note text: data sets appear only as file names, row counts and SHA-256 hashes.",
             size=9, style="I", color=GREY, h=4.6)

    # 2. Executive summary
    pdf.add_page()
    doc.h1("1. Executive summary")
    for item in c["summary"]:
        doc.space_for(28)
        pdf.set_font(doc.sans, "B", 11)
        pdf.set_text_color(*TEAL)
        pdf.cell(0, 6.5, t(f"{item['question']}  {item['verdict']}"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        doc.para(item["text"], size=10.5, h=5.6)
        pdf.ln(1.5)

    # 3. Model identity
    m = c["model"]
    doc.h1("2. Model identity")
    doc.kv([("Architecture", m["architecture"], False), ("Model type", m["model_type"], False),
            ("Source", m["source"], False), ("Parameters", m["params_total"], False),
            ("Classes", ", ".join(m["labels"]), False),
            ("SHA-256 before", m["sha256_before"], True), ("SHA-256 after", m["sha256_after"], True),
            ("SHA-256 of the patch", m["patch_sha256"], True)])
    doc.para("Model hashes are SHA-256 over the sorted list of the checkpoint's files and their own SHA-256; the "
             "original checkpoint is only read, the unlearned model is a new version.", size=8.5, style="I",
             color=GREY, h=4.4)

    # 4. Data
    d = c["data"]
    doc.h1("3. Data")
    rows = []
    if d["forget"]:
        rows += [("Forget set", f"{d['forget']['name']}: {d['forget']['rows']} rows", False),
                 ("Forget set SHA-256", d["forget"]["sha256"] or d["forget_set_sha256"], True)]
    if d["eval"]:
        rows += [("Evaluation set", f"{d['eval']['name']}: {d['eval']['rows']} rows", False),
                 ("Evaluation SHA-256", d["eval"]["sha256"], True)]
    if d["train"]:
        rows += [("Training set", f"{d['train']['name']}: {d['train']['rows']} rows "
                                  f"({d['retain_rows']} of them in the retain set)", False)]
    rows += [("Selected-token coverage", d["coverage"], False),
             ("Membership test", f"{d['mia_members']} forget-set notes (members) vs {d['mia_nonmembers']} "
                                 "held-out notes of the forgotten class (non-members)", False)]
    doc.kv(rows)
    doc.para("No note text is stored in, or printed by, this report. Content hashes are SHA-256 over the "
             "[text, label] lines of the notes in file order.", size=8.5, style="I", color=GREY, h=4.4)

    # 5. Method
    me = c["method"]
    doc.h1("4. Method")
    doc.para("STEU (Sparse Token Embedding Unlearning): the tokens most specific to the forgotten class are "
             "chosen by pointwise mutual information (PMI) on the forget set; only their rows of the input "
             "token-embedding matrix and the classification head are trained, to push predictions away from the "
             "class while keeping the other classes right. Every encoder parameter stays frozen.")
    doc.kv([("Method", me["name"], False), ("Forgotten class", f"{me['forget_class']} (id {me['forget_class_id']})",
                                             False),
            ("Rows edited (k)", me["k"], False), ("Parameter budget", me["budget"], False),
            ("Seed", me["seed"], False), ("Device", me["device"], False), ("Precision", me["precision"], False),
            ("Training", me["training"], False),
            ("Durations", ", ".join(f"{k} {v}" for k, v in me["durations"].items()) or "n/a", False)])
    if me["settings"]:
        items = list(me["settings"].items())
        half = (len(items) + 1) // 2
        doc.space_for(20 + 6.5 * (half + 1))  # the heading stays with its table
        doc.h2("Settings")
        left, right = items[:half], items[half:]
        rows = [[lk, lv, *(right[i] if i < len(right) else ("", ""))] for i, (lk, lv) in enumerate(left)]
        w = pdf.epw
        doc.grid(["Setting", "Value", "Setting", "Value"], rows, [w * 0.3, w * 0.2, w * 0.3, w * 0.2], size=9)
    if me["remarks"]:
        doc.h2("Remarks from the method")
        for rem in me["remarks"]:
            doc.para(f"- {rem}", size=9.5)

    # 6. Results
    doc.h1("5. Results")
    w = pdf.epw
    table = [[r["metric"], r["before"], r["after"], r["change"]] for r in c["results_table"]]
    doc.grid(["Metric", "Before", "After", "Change"], table, [w * 0.37, w * 0.22, w * 0.22, w * 0.19],
             align=["LEFT", "RIGHT", "RIGHT", "RIGHT"], size=9.5, bold_rows={0})
    if c["mia_note"]:
        doc.para(f"Membership inference was not run: {c['mia_note']}.", size=9, style="I", color=GREY)
    doc.para("Forget F1: one-vs-rest F1 of the forgotten class on the evaluation set. Retain F1: macro F1 over the "
             "other classes. MIA: a loss-threshold attack separating forget-set notes (members) from held-out notes "
             "of the same class; AUC 0.5 is guessing, the 95 % CI is from a bootstrap. TPR at 1 % FPR: the share "
             "of members found while flagging 1 % of non-members.", size=8.5, style="I", color=GREY, h=4.4)
    doc.h2("F1 per class")
    doc.grid(["Class", "Before", "After", "Change"],
             [[f"{p['label']} (forgotten)" if p["forgotten"] else p["label"], p["before"], p["after"], p["change"]]
              for p in c["per_class_f1"]], [w * 0.37, w * 0.22, w * 0.22, w * 0.19],
             align=["LEFT", "RIGHT", "RIGHT", "RIGHT"], size=9.5,
             bold_rows={i for i, p in enumerate(c["per_class_f1"]) if p["forgotten"]})

    # 7. Charts
    doc.h1("6. Charts")
    for spec in c["charts"]:
        if spec["id"] == "changed_fraction":
            continue
        img = images.get(spec["id"])
        if isinstance(img, Path):
            wpx, hpx = sizes[spec["id"]]
            max_w = 140 if spec["id"] == "mia_roc" else pdf.epw
            doc.space_for(doc.image_height(wpx, hpx, max_w) + 24)  # the heading stays with its chart
            doc.h2(spec["title"])
            doc.image(img, wpx, hpx, spec["caption"], max_w=max_w)
        else:
            doc.h2(spec["title"])
            doc.para(str(img or "chart unavailable"), size=9, style="I", color=GREY)

    # 8. Parameter-diff verification
    p = c["param_diff"]
    doc.h1("7. Parameter-diff verification", keep=95)
    doc.para(f"Result: {p['verdict']}. The original and the unlearned model were compared tensor by tensor. "
             f"{p['n_changed_tensors']} tensor(s) changed; the encoder is bit-identical: {p['encoder_bit_identical']}. "
             f"{p['changed_embedding_rows']} embedding rows changed; {p['params_changed']} of {p['params_total']} "
             f"parameters changed ({p['fraction_changed']}).", size=10.5, h=5.6)
    doc.kv([("Verdict", p["verdict"], False), ("Encoder bit-identical", p["encoder_bit_identical"], False),
            ("Fraction changed", p["fraction_changed"], False),
            ("Tensors changed", "\n".join(p["changed_tensors"]) or "none", False),
            ("Check", p["message"], False)])
    img = images.get("changed_fraction")
    if isinstance(img, Path):
        wpx, hpx = sizes["changed_fraction"]
        spec = next(s for s in c["charts"] if s["id"] == "changed_fraction")
        doc.image(img, wpx, hpx, spec["caption"])

    # 9. Limitations
    doc.h1("8. Limitations")
    for item in c["limitations"]:
        doc.h2(item["title"])
        doc.para(item["text"])

    # 10. Comparison (only when comparison.json exists)
    n = 9
    if c["comparison"]:
        doc.h1(f"{n}. Comparison with other methods", keep=30 + 7 * len(c["comparison"]))
        n += 1
        doc.grid(["Method", "Forget F1", "Retain F1", "Parameters changed", "Time"],
                 [[r["method"], r["forget_f1"], r["retain_f1"], r["params_changed_fraction"], r["wall_seconds"]]
                  for r in c["comparison"]], [w * 0.26, w * 0.16, w * 0.16, w * 0.22, w * 0.2],
                 align=["LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"])

    # 11. Ledger
    lg = c["ledger"]
    doc.h1(f"{n}. Ledger entry")
    n += 1
    if lg["recorded"]:
        doc.kv([("Run entry hash", lg["entry_hash"], True), ("Entry", f"#{lg['seq']}, {lg['ts_utc']}", False),
                ("Outcome", lg["outcome"], False), ("Previous hash", lg["prev_hash"], True),
                ("Ledger chain", lg.get("chain", "n/a"), False)])
        doc.para("Keep this hash with the report: 'python -m steu_core ledger verify' checks the chain, and the "
                 "entry with this hash must still be in it.", size=8.5, style="I", color=GREY, h=4.4)
    else:
        doc.kv([("Run entry hash", "not recorded", False)] +
               ([("Ledger chain", lg["chain"], False)] if lg.get("chain") else []))

    # 12. Sign-off
    doc.h1(f"{n}. Sign-off", keep=120)
    for role in ("Prepared by (operator)", "Reviewed and approved by (privacy officer)"):
        doc.h2(role)
        pdf.set_font(doc.sans, "", 10)
        for label in ("Name", "Role", "Signature", "Date"):
            y = pdf.get_y() + (12 if label == "Signature" else 8)  # room to sign by hand
            pdf.set_xy(pdf.l_margin, y - 4.5)
            pdf.cell(28, 5, t(label))
            pdf.set_draw_color(120, 120, 120)
            pdf.line(pdf.l_margin + 28, y + 0.8, pdf.l_margin + 128, y + 0.8)
            pdf.set_y(y + 2)
        pdf.ln(6)


# -- command line -------------------------------------------------------------------------------
def cmd_report(args) -> int:
    from .model import file_sha256

    out = build_report(args.run, args.out, organisation=args.organisation, json_out=args.json)
    print(f"Wrote {out}" + (f" and {args.json}" if args.json else ""))
    print(f"Its SHA-256 is recorded in the ledger (kind 'report'): {file_sha256(out)}")
    return 0


def register_cli(subparsers) -> None:
    """Add ``report --run DIR --out FILE.pdf [--json FILE.json] [--organisation NAME]``."""
    p = subparsers.add_parser("report", help="write the PDF (and JSON) audit report of a finished run")
    p.add_argument("--run", required=True, help="the finished run directory (holds results.json)")
    p.add_argument("--out", required=True, help="PDF file to write")
    p.add_argument("--json", help="also write the report's content as JSON here")
    p.add_argument("--organisation", help="organisation name on the title page (default: $STEU_ORG)")
    p.set_defaults(func=cmd_report)
