"""Which differences between models lie outside the noise (non-overlapping 95 % intervals): as pairs
(``noise`` in comparison.json) and as plain sentences (``findings``)."""
from __future__ import annotations

from functools import partial

from ..audits.deep import ORACLE, intervals_overlap
from .schema import FULL_PREFIX, METRIC_NAMES, RELEARN_PREFIX, STEPS_SUFFIX, STRONGEST
from .text import format_interval, format_value

STEU = "steu"


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


def _metric_label(key: str, steps) -> str:
    if key.startswith(STRONGEST):
        return "relearning steps, strongest attacker"
    if key.startswith(FULL_PREFIX):
        return f"relearning steps, full-model attacker (n = {key[len(FULL_PREFIX):-len(STEPS_SUFFIX)]})"
    if steps is not None:
        return f"relearning steps (n = {key[len(RELEARN_PREFIX):-len(STEPS_SUFFIX)]})"
    return METRIC_NAMES.get(key, key.replace("_", " "))


def _partners(pairs: dict, kind: str, anchor: str) -> list[str]:
    """The models paired with ``anchor`` under ``kind`` ("different" or "indistinguishable"), sorted."""
    return sorted(b if a == anchor else a for a, b in pairs.get(kind, []) if anchor in (a, b))


def _figure_of(rows_by_method: dict, key: str, ci_key: str, steps, method: str) -> str:
    """A model's figure with its interval, as a finding quotes it."""
    row = rows_by_method[method]
    if key.startswith(STRONGEST):  # each model's strongest attack has its own bound: its own words
        return f"{row.get(STRONGEST + '_text')} {row.get(STRONGEST + '_ci_text') or ''} ({row.get(STRONGEST + '_attack')})"
    return f"{format_value(row.get(key), max_steps=steps)} {format_interval(row.get(ci_key), steps)}"


def _anchor_sentence(label: str, anchor: str, diff: list[str], same: list[str], figure) -> str:
    text = f"{label}: {anchor} {figure(anchor)}"
    if diff:
        text += "; differs (intervals do not overlap) from " + ", ".join(f"{m} {figure(m)}" for m in diff)
    if same:
        text += "; within the noise of " + ", ".join(same)
    return text


def findings(rows: list[dict], noise: dict, metrics, max_steps: int | dict | None = None) -> list[str]:
    """Plain sentences for STEU and the oracle against every other model: which differences lie outside
    the noise (non-overlapping intervals) and which inside. ``max_steps``: the relearning bound, or a
    dict of the bound of every relearning column."""
    by = {r["method"]: r for r in rows}
    out = []
    anchors = [m for m in (STEU, ORACLE) if m in by]
    for key, ci_key in metrics:
        if isinstance(max_steps, dict):
            steps = max_steps.get(key)
        else:
            steps = max_steps if key.startswith(RELEARN_PREFIX) else None
        pairs = noise.get(key, {})
        for anchor in anchors:
            diff, same = _partners(pairs, "different", anchor), _partners(pairs, "indistinguishable", anchor)
            if anchor == ORACLE and STEU in anchors:  # STEU against the oracle is already said from STEU's side
                diff, same = [m for m in diff if m != STEU], [m for m in same if m != STEU]
            if diff or same:
                out.append(_anchor_sentence(_metric_label(key, steps), anchor, diff, same,
                                            partial(_figure_of, by, key, ci_key, steps)))
    return out
