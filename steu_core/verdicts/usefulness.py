"""Was the class forgotten, and was the model's usefulness kept (each retained class on the retained-class
notes, against the retrain without the forget notes where one exists)?"""
from __future__ import annotations

from ..format import change
from ..result_keys import FORGET_F1_AFTER, FORGET_F1_BEFORE, PER_CLASS_F1_AFTER, RETAIN_F1_AFTER, RETAIN_F1_BEFORE
from .base import (BASIS_ALL, BASIS_RETAINED, FORGOTTEN_MAX, INCONCLUSIVE, NO, RECOGNISED_FLOOR, UNDECIDABLE_WIDTH, YES,
                   ci_text, f3, seed_count, verdict, worst_seed_value)


def forgotten(r: dict) -> dict:
    before, after = r.get(FORGET_F1_BEFORE), worst_seed_value(r, FORGET_F1_AFTER, max)
    ci = (r.get("utility_ci") or {}).get(FORGET_F1_BEFORE)
    evidence = {"forget_f1_before": before, "forget_f1_before_ci": ci, "forget_f1_after": after,
                "forget_f1_after_ci": (r.get("utility_ci") or {}).get(FORGET_F1_AFTER),
                "floor": RECOGNISED_FLOOR, "forgotten_max": FORGOTTEN_MAX, "seeds": seed_count(r)}
    if before is None or after is None:
        return verdict(INCONCLUSIVE, "the forget F1 was not measured", **evidence)
    if before < RECOGNISED_FLOOR or (ci is not None and ci[0] <= 0.0):
        return verdict(INCONCLUSIVE, f"the model did not recognise this class before: forget F1 before was "
                                     f"{f3(before)}{ci_text(ci)}, below the floor of {RECOGNISED_FLOOR} or with an "
                                     "interval that reaches 0, so there was nothing to forget", **evidence)
    seeds = f" (the highest of {seed_count(r)} seeds)" if seed_count(r) > 1 else ""
    if after <= FORGOTTEN_MAX:
        return verdict(YES, f"forget F1 fell from {f3(before)}{ci_text(ci)} to {f3(after)}{seeds}, at or below "
                            f"{FORGOTTEN_MAX}", **evidence)
    return verdict(NO, f"the model still recognises the class: forget F1 {f3(after)} after{seeds} (from "
                       f"{f3(before)}), above {FORGOTTEN_MAX}", **evidence)


# -- utility kept ------------------------------------------------------------------------------
def utility_rows(r: dict) -> tuple[list[dict], str]:
    """The retained classes' F1 rows the verdict judges, and on which notes: the retained-class notes (the
    field's measure after class forgetting); a record from before that measure, all notes."""
    collateral = r.get("collateral") or {}
    rows = (collateral.get("retained_notes") or {}).get("per_class")
    if rows:
        return rows, BASIS_RETAINED
    return [row for row in collateral.get("per_class", []) if not row.get("forgotten")], BASIS_ALL


def utility_kept(r: dict, reference: dict | None = None) -> dict:
    """No when a retained class lost F1 on the retained-class notes beyond its interval (and beyond what the
    retrain without the forget notes lost, where a reference exists); inconclusive when an interval is too
    wide to tell. Where the forgotten class's own notes go is shown apart and decides nothing."""
    reference = reference if reference is not None else r.get("reference")
    rows, basis = utility_rows(r)
    ref_change = reference_changes(rows, reference)
    lost, undecided, like_ref = [], [], []
    for row in rows:
        lo, hi = worst_change_ci(r, row, basis)
        if hi < 0:
            limit = ref_change.get(row["label"])
            (like_ref if limit is not None and hi >= limit else lost).append(row["label"])
        elif hi - lo > UNDECIDABLE_WIDTH:
            undecided.append(row["label"])
    retained = (r.get("collateral") or {}).get("retained_notes") or {}
    evidence = {"basis": basis, "classes_lost": lost, "classes_lost_like_oracle": like_ref,
                "classes_undecided": undecided, "oracle_reference": bool(ref_change),
                "retain_f1_before": r.get(RETAIN_F1_BEFORE), "retain_f1_after": r.get(RETAIN_F1_AFTER),
                "retain_f1_change_ci": (retained.get("retain_f1") or {}).get("change_ci"),
                "forgotten_notes_went": ((r.get("collateral") or {}).get("forgotten_notes") or {}).get("after"),
                "reference_forgotten_notes_went": (reference or {}).get("forgotten_notes_after"),
                "seeds": seed_count(r)}
    if not rows:
        return verdict(INCONCLUSIVE, "no per-class figures with intervals were recorded", **evidence)
    on = f"on the {basis}"
    ref_note = (f"; {', '.join(like_ref)} lost F1 but no more than the retrain without the forget notes does"
                if like_ref else "")
    if lost:
        beyond = (" and beyond what the retrain without the forget notes loses" if ref_change else
                  "; no retrain without the forget notes exists for this model, class and data (a comparison with "
                  "retrain_oracle shows whether retraining would lose as much)")
        return verdict(NO, f"{', '.join(class_loss_text(r, row, basis) for row in rows if row['label'] in lost)} lost "
                           f"F1 {on} beyond the 95 % interval{beyond}{ref_note}", **evidence)
    if undecided:
        return verdict(INCONCLUSIVE, f"the data cannot tell for {', '.join(undecided)}: the interval of the change "
                                     f"is wider than {UNDECIDABLE_WIDTH}{ref_note}", **evidence)
    return verdict(YES, f"no retained class lost F1 {on} beyond its 95 % interval{retain_text(retained)}{ref_note}",
                   **evidence)


def retain_text(retained: dict) -> str:
    """"; retained macro F1 0.888 -> 0.903 (change +0.015, 95 % interval ...)", where measured."""
    f = retained.get("retain_f1") or {}
    if f.get("f1_before") is None:
        return ""
    interval = f", 95 % interval {f3(f['change_ci'][0])} to {f3(f['change_ci'][1])}" if f.get("change_ci") else ""
    return (f"; retained macro F1 {f3(f['f1_before'])} -> {f3(f['f1_after'])} (change "
            f"{change(f['f1_before'], f['f1_after'], 3)}{interval})")


def class_loss_text(r: dict, row: dict, basis: str) -> str:
    return f"{row['label']} ({f3(row.get('f1_before'))} -> {f3(worst_class_f1_after(r, row, basis))})"


def worst_change_ci(r: dict, row: dict, basis: str = BASIS_RETAINED) -> list[float]:
    """The change interval of a class; with several seeds, the seed where the class fared worst."""
    key = "retained_change_ci" if basis == BASIS_RETAINED else "per_class_change_ci"
    per_seed = [s.get(key, {}).get(row["label"]) for s in (r.get("seeds") or {}).get("per_seed", [])]
    cis = [ci for ci in per_seed if ci] or [row["change_ci"]]
    return min(cis, key=lambda ci: ci[1])


def worst_class_f1_after(r: dict, row: dict, basis: str = BASIS_RETAINED) -> float | None:
    key = "retained_f1_after" if basis == BASIS_RETAINED else PER_CLASS_F1_AFTER
    values = [s.get(key, {}).get(row["label"]) for s in (r.get("seeds") or {}).get("per_seed", [])]
    values = [v for v in values if v is not None] or [row.get("f1_after")]
    return min(values) if values and values[0] is not None else None


def reference_changes(rows: list[dict], reference: dict | None) -> dict:
    """How much each retained class's F1 changed under the retrain without the forget notes (its F1 after
    minus this run's before, on the retained-class notes)."""
    after = (reference or {}).get("retained_f1_after") or {}
    return {row["label"]: after[row["label"]] - row["f1_before"] for row in rows
            if row["label"] in after and row.get("f1_before") is not None}
