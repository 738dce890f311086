"""The executive summary: the questions a reader of the report asks, each with a one-word verdict and
plain words built from the run's numbers."""
from __future__ import annotations

from ..format import change, count, interval, number, percent, to_number

FORGOTTEN_F1 = 0.05       # a class whose F1 is at or below this is no longer recognised
UTILITY_KEPT = 0.02       # retain-F1 drops up to this are reported as "kept"
UTILITY_MOSTLY = 0.05     # ... up to this as "mostly kept"

# What changed, by what the method edits (steu_core.methods.describe(name)["edits"]); {rows}: embedding rows
EDITED = {"rows+head": "{rows} rows of the input token-embedding matrix and the classification head",
          "rows": "{rows} rows of the input token-embedding matrix; the classification head is unchanged",
          "head": "the classification head only; no row of the input token-embedding matrix",
          "everything": "parameters throughout the model, the encoder included ({rows} rows of the input "
                        "token-embedding matrix among them)"}


def summary(r: dict, edits: str | None) -> list[dict]:
    """Was the class forgotten, was the model's usefulness kept, how much changed (``edits``: what the
    method edits, see :data:`EDITED`), and (when membership inference ran) can an attacker still detect
    the forgotten notes."""
    items = [_forgotten(r), _usefulness(r), _how_much_changed(r, edits)]
    attack = _attack(r)
    return items + ([attack] if attack else [])


def _item(question: str, verdict: str, text: str) -> dict:
    return {"question": question, "verdict": verdict, "text": text}


def _forgotten(r: dict) -> dict:
    fc = r.get("forget_class", "")
    fb, fa = to_number(r.get("forget_f1_before")), to_number(r.get("forget_f1_after"))
    n_eval = (r.get("data") or {}).get("eval_rows")
    on_eval = f"on {count(n_eval)} held-out evaluation notes" if n_eval else "on the held-out evaluation notes"
    question = "Was the class forgotten?"
    if fa is None or fb is None:
        return _item(question, "Unknown", "The forget F1 was not recorded.")
    if fa <= FORGOTTEN_F1:
        return _item(question, "Yes", (
            f"The model no longer recognises the class '{fc}'. Its F1 score for the class {on_eval} fell from "
            f"{number(fb)} before to {number(fa)} after (a class counts as forgotten here when its F1 is at or "
            f"below {FORGOTTEN_F1:.2f})."))
    if fa < fb:
        return _item(question, "Partly", (
            f"The model recognises the class '{fc}' less well, but not fully suppressed: its F1 {on_eval} went "
            f"from {number(fb)} to {number(fa)}, above the {FORGOTTEN_F1:.2f} used here to call a class forgotten."))
    return _item(question, "No",
                 f"The model still recognises the class '{fc}': its F1 {on_eval} went from {number(fb)} to {number(fa)}.")


def _usefulness(r: dict) -> dict:
    rb, ra = to_number(r.get("retain_f1_before")), to_number(r.get("retain_f1_after"))
    question = "Was the model's usefulness kept?"
    if ra is None or rb is None:
        return _item(question, "Unknown", "The retain F1 was not recorded.")
    drop = rb - ra
    went = f"the F1 over the other classes went from {number(rb)} to {number(ra)} (change {change(rb, ra)})"
    if drop <= UTILITY_KEPT:
        return _item(question, "Yes", f"The model works as before on everything else: {went}.")
    if drop <= UTILITY_MOSTLY:
        return _item(question, "Mostly", f"The model works nearly as before on everything else: {went}.")
    return _item(question, "Reduced", (
        f"The model lost some accuracy on the other classes: {went}. Part of such a drop can come from notes of "
        f"'{r.get('forget_class', '')}' that the model now assigns to other classes, which lowers those classes' "
        "precision (see the per-class F1 table)."))


def _how_much_changed(r: dict, edits: str | None) -> dict:
    frac, rows = r.get("params_changed_fraction"), count(r.get("changed_embedding_rows"))
    what = EDITED.get(edits, "{rows} rows of the input token-embedding matrix among them").format(rows=rows)
    return _item("How much of the model changed?", percent(frac), (
        f"{count(r.get('params_changed'))} of {count(r.get('params_total'))} parameters ({percent(frac)}): "
        f"{what}. {_encoder_text(r.get('encoder_unchanged'), edits)}"))


def _encoder_text(unchanged: bool, edits: str | None) -> str:
    if unchanged:
        return "Every encoder parameter is bit-identical to the original, checked tensor by tensor."
    if edits == "everything":
        return "The encoder changed as well, as this method trains it (see the verification section)."
    return "WARNING: encoder parameters changed (see the verification section)."


def _attack(r: dict) -> dict | None:
    mia = r.get("mia") or {}
    after = to_number(mia.get("loss_auc_after"))
    if after is None:
        return None
    lo_hi = mia.get("loss_auc_ci_after") or [None, None]
    near = lo_hi[0] is not None and to_number(lo_hi[0]) <= 0.5 <= to_number(lo_hi[1])
    text = (f"A membership-inference attacker who tries to tell the forget-set notes from unseen notes of the "
            f"same class scores an AUC of {number(mia.get('loss_auc_before'))} before and {number(after)} after "
            f"(0.5 means guessing; 95 % CI after {interval(mia.get('loss_auc_ci_after'))}).")
    verdict = "At chance" if near else ("Above chance" if after > 0.5 else "Below chance")
    return _item("Can an attacker still detect the forgotten notes?", verdict, text)
