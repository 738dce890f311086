"""A comparison in progress, in words: where each method stands and how far the whole is, from the
comparison's ``progress.json`` (``stage``, ``methods``, ``method``, ``index`` and the current method's
own ``run`` progress, written by :mod:`.runner`). Read by the Compare page."""
from __future__ import annotations

from ..runs import stages

# share of the whole comparison at the end of the method runs, of the scoring, and of the deep audits
METHODS_END, SCORE_END, AUDITS_END = 0.80, 0.85, 0.98
WAITING, CURRENT, DONE = "waiting", "running", "finished"


def method_rows(stage: str, detail: dict) -> list[dict]:
    """One row per compared method: ``{method, state, text, fraction}`` (state: waiting / running /
    finished); ``text`` says which stage of its run the current method is in."""
    methods = list(detail.get("methods") or [])
    index = int(detail.get("index") or 0)
    rows = []
    for i, method in enumerate(methods, start=1):
        if stage == "method" and i == index:
            run = detail.get("run") or {}
            inner = str(run.get("stage") or "starting")
            step, total = int(run.get("step") or 0), int(run.get("total") or 0)
            rows.append({"method": method, "state": CURRENT,
                         "text": stages.progress_text(inner, step, total, str(run.get("activity") or "")),
                         "fraction": stages.overall_fraction(inner, step, total)})
        elif stage == "method" and i > index or stage in ("start", "starting", ""):
            rows.append({"method": method, "state": WAITING, "text": "waiting", "fraction": 0.0})
        else:
            rows.append({"method": method, "state": DONE, "text": "finished", "fraction": 1.0})
    return rows


def phase_text(stage: str, detail: dict, step: int = 0, total: int = 0, activity: str = "") -> str:
    """What the comparison as a whole is doing, in one line: in a deep audit, which audit of how many and
    where inside it (``activity``: the audit's words, e.g. "steu: draw 2 of 5, step 6 of 10")."""
    if stage == "method":
        n = len(detail.get("methods") or []) or total
        return f"Running method {detail.get('index')} of {n}: {detail.get('method')}"
    if stage == "score":
        model = detail.get("method")
        return "Scoring every model on the same notes" + (f" ({model})" if model else "")
    if stage.startswith("audit:"):
        index, count = int(detail.get("audit_index") or 0), int(detail.get("audit_count") or 0)
        text = f"Deep audit {index} of {count}: " if index and count else "Deep audit: "
        text += stage.split(':', 1)[1].replace('_', ' ')
        if activity:
            return f"{text} · {activity}"
        return text + (f" (step {step} of {total})" if total else "")
    if stage == "table":
        return "Writing the table"
    return stages.stage_words(stage)


def overall_fraction(stage: str, detail: dict, step: int = 0, total: int = 0) -> float:
    """How far the whole comparison is, 0..1 (the method runs share the first 80 %, evenly; the deep audits
    share theirs evenly too, each moving with its own ``step`` of ``total``)."""
    if stage == "method":
        methods = detail.get("methods") or []
        rows = method_rows(stage, detail)
        return METHODS_END * sum(r["fraction"] for r in rows) / max(1, len(methods))
    if stage == "score":
        return METHODS_END
    if stage.startswith("audit:"):
        index, count = int(detail.get("audit_index") or 0), int(detail.get("audit_count") or 0)
        if not (index and count):
            return SCORE_END
        inside = min(1.0, step / total) if total else 0.0
        return SCORE_END + (AUDITS_END - SCORE_END) * (index - 1 + inside) / count
    if stage == "table":
        return AUDITS_END
    return 0.0
