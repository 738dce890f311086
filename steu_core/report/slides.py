"""The presentation of one run, as slides: what the dashboard's presentation page shows and what the
interactive HTML export (:mod:`.html`) writes. The words, verdicts and charts come from the same owners
as the PDF (:mod:`.summary`, :mod:`.content`, :mod:`steu_core.charts`), so the three always agree.

A slide is ``{"id", "title", "blocks"}`` (with ``"columns"``, lists of block indices, where its blocks stand in
columns so that the slide fits a 1280x720 screen); a block is one of
``{"kind": "verdicts", "items": [...]}`` (summary items, the first shown largest),
``{"kind": "chart", "id", "figure", "caption"}`` (a Plotly figure),
``{"kind": "facts", "rows": [(label, value, is_hash)]}`` and ``{"kind": "text", "title", "text"}``.
"""
from __future__ import annotations

from pathlib import Path

from .. import charts
from ..format import count, percent, when
from ..model import file_sha256
from .content import collateral_specs, limitations, method_text
from .summary import attack_table, measurement_notes, summary
from .versions import report_versions


def latest_report(run_dir: str | Path) -> dict | None:
    """The newest PDF report of the run (``report.pdf``, ``report-v2.pdf`` ...) with its SHA-256, or None."""
    versions = report_versions(Path(run_dir) / "report.pdf")
    if not versions:
        return None
    return {"name": versions[-1].name, "version": len(versions), "sha256": file_sha256(versions[-1])}


def build_slides(r: dict, report: dict | None = None) -> list[dict]:
    """Every slide of the run ``r`` (a results.json dict); ``report``: :func:`latest_report`."""
    about = method_text(r)
    items = summary(r, about["edits"])
    return [title_slide(r, items), verdicts_slide(items, r), utility_slide(r), collateral_slide(r),
            membership_slide(r), share_slide(r), proof_slide(r), limitations_slide(about), evidence_slide(r, report)]


# A slide's chart is at most this high (px): with the slide's title and the chart's caption it fits a 1280x720
# screen; a slide's two charts are shown side by side (the Presentation page).
SLIDE_CHART_HEIGHT = 420
SIDE_BY_SIDE_HEIGHT = 340  # a chart beside another block: its caption wraps to more lines in half the width
SLIDE_TITLE_CHARS = 50  # a chart title's first line at most, so that it fits half a slide's width


def _chart(cid: str, figure, caption: str, height: int = SLIDE_CHART_HEIGHT) -> dict:
    if not figure.layout.height or figure.layout.height > height:
        figure.update_layout(height=height)
    title = figure.layout.title.text or ""
    first, _, rest = title.partition("<br>")
    if len(first) > SLIDE_TITLE_CHARS and " " in first[:SLIDE_TITLE_CHARS]:
        cut = first.rindex(" ", 0, SLIDE_TITLE_CHARS)
        figure.update_layout(title_text=f"{first[:cut]}<br>{first[cut + 1:]}" + (f"<br>{rest}" if rest else ""),
                             margin_t=(figure.layout.margin.t or 90) + 22)
    return {"kind": "chart", "id": cid, "figure": figure, "caption": caption}


def title_slide(r: dict, items: list[dict]) -> dict:
    req = r.get("request") or {}
    overall = next(i for i in items if i["key"] == "overall")
    return {"id": "title", "title": f"Forgetting the class '{r.get('forget_class', '')}'", "blocks": [
        {"kind": "verdicts", "items": [overall]},
        {"kind": "facts", "rows": [("Request", req.get("request_id") or "n/a", False),
                                   ("Requester", req.get("requester") or "n/a", False),
                                   ("Reason", req.get("reason") or "n/a", False),
                                   ("Method", method_text(r)["label"], False),
                                   ("Run", f"{r.get('run_id', '')}, {when(r.get('created_utc'))}", False)]}]}


def verdicts_slide(items: list[dict], r: dict) -> dict:
    parts = [i for i in items if i["key"] != "overall"]
    notes = " ".join(measurement_notes(r))
    blocks = [{"kind": "verdicts", "items": parts}]
    if notes:
        blocks.append({"kind": "text", "title": "How it was measured", "text": notes})
    return {"id": "verdicts", "title": "The verdicts", "blocks": blocks}


def utility_slide(r: dict) -> dict:
    return {"id": "utility", "title": "Forgetting and utility", "blocks": [_chart(
        "forget_retain_f1", charts.forget_retain_f1(r),
        "F1 on the held-out evaluation notes before (grey) and after (teal): the forgotten class should fall "
        "towards 0 while the other classes stay where they were.")]}


def collateral_slide(r: dict) -> dict:
    specs = collateral_specs(r)
    if specs:
        first, second = specs[0], specs[1]
        blocks = [_chart(spec["id"], spec["build"](r), spec["caption"], SIDE_BY_SIDE_HEIGHT) for spec in (first, second)]
    else:
        blocks = [_chart("per_class_f1", charts.per_class_f1(r), "Every class's F1 before and after.", SIDE_BY_SIDE_HEIGHT),
                  _chart("confusion_matrices", charts.confusion_matrices(r),
                         "Where the evaluation notes are predicted (rows: true class; numbers: notes).",
                         SIDE_BY_SIDE_HEIGHT)]
    return {"id": "collateral", "title": "The other classes", "blocks": blocks, "columns": [[0], [1]]}


def membership_slide(r: dict) -> dict:
    mia = r.get("mia") or {}
    facts = [(f"{a['attack']} ({a['attacker']})",
              f"original {a['original']} · after {a['after']} · retrain {a['retrain']}", False) for a in attack_table(r)]
    blocks = [_chart("mia_roc", charts.mia_roc(r, legend_beside=True),
                     f"A loss and a confidence attack on {mia.get('n_members', 'n/a')} forget-set notes against "
                     f"{mia.get('n_nonmembers', 'n/a')} unseen notes of the class; AUC 0.5 means guessing.")]
    if facts:
        blocks.append({"kind": "facts", "rows": facts})
    return {"id": "membership", "title": "Can an attacker still find the forgotten notes?", "blocks": blocks}


def proof_slide(r: dict) -> dict:
    verdict = str(r.get("param_diff_verdict", "n/a")).upper()
    facts = [("Parameter check", verdict, False),
             ("Encoder bit-identical", "yes" if r.get("encoder_unchanged") else "NO", False),
             ("Parameters changed", f"{count(r.get('params_changed'))} of {count(r.get('params_total'))} "
                                    f"({percent(r.get('params_changed_fraction'))})", False),
             ("Embedding rows changed", count(r.get("changed_embedding_rows")), False),
             ("Tensors changed", ", ".join(str(t) for t in r.get("changed_tensors", [])) or "none", False)]
    return {"id": "proof", "title": "What changed in the model: the parameter-diff proof", "columns": [[0], [1]],
            "blocks": [{"kind": "facts", "rows": facts},
                       _chart("changed_rows", charts.changed_rows(r, top=15),
                              "The selected tokens whose embedding rows moved most (L2 norm of the change).",
                              SIDE_BY_SIDE_HEIGHT + 60)]}


def share_slide(r: dict) -> dict:
    return {"id": "share", "title": "How much of the model changed", "blocks": [_chart(
        "changed_fraction", charts.changed_fraction(r),
        "Changed parameters against the whole model, on a log scale: everything else is bit-identical.")]}


def limitations_slide(about: dict) -> dict:
    return {"id": "limitations", "title": "What this evidence does not prove", "blocks": [
        {"kind": "text", "title": item["title"], "text": item["text"]} for item in limitations(about)]}


def evidence_slide(r: dict, report: dict | None) -> dict:
    hashes = r.get("hashes") or {}
    rows = [("Original model", hashes.get("original_model", "n/a"), True),
            ("New model version", hashes.get("unlearned_model", "n/a"), True),
            ("Patch", hashes.get("patch", "n/a"), True), ("Forget set", hashes.get("forget_set", "n/a"), True)]
    ids = ((r.get("data") or {}).get("forget_source") or {}).get("ids_file")
    if isinstance(ids, dict):
        rows.append((f"Ids file {ids.get('name', '')} (its bytes)", ids.get("sha256", "n/a"), True))
    if report:
        rows.append((f"PDF report ({report['name']}, version {report['version']})", report["sha256"], True))
    else:
        rows.append(("PDF report", "not made yet", False))
    return {"id": "evidence", "title": "The evidence on file (SHA-256)", "blocks": [{"kind": "facts", "rows": rows}]}
