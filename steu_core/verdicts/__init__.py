"""Verdicts: the answers a run gives to "was the class forgotten?", "was the model's usefulness
kept?" and, for each attacker (threat model), "can this attacker still tell the forgotten notes?",
computed once from results.json and rendered as they are by the dashboard, the PDF and the CLI.

Each verdict is ``{"verdict": "yes" | "no" | "inconclusive", "reason": "<sentence with the
figures>", "evidence": {...}}``. A test that had no power says "inconclusive", never "yes": a class
the model did not recognise before, no attack of a threat model that told members from non-members on
the original, intervals too wide to decide. Where a run has several seeds, each verdict takes the least
favourable seed. Every figure is read against a retrain without the forget notes on the same data, where
one exists (``results.json``'s ``reference``). The rules are stated in docs/CONTRACTS.md and their
thresholds are the constants below.
"""
from __future__ import annotations

from .base import (BASIS_ALL, BASIS_RETAINED, CHANCE, FORGOTTEN_MAX, INCONCLUSIVE, MODEL_FILE,  # noqa: F401
                   NO, OUTPUTS, POWER_HINT, QUESTIONS, RECOGNISED_FLOOR, RELEARN_QUESTION, REMEDY, THREAT_MODEL_SHORT,
                   THREAT_MODELS, UNDECIDABLE_WIDTH, VERDICT_WORDS, YES, ci_text, f3, seed_count, verdict,
                   worst_seed_value)
from .membership import attack_rows, threat_model  # noqa: F401
from .relearning import attack_results, relearning, unreached_bars  # noqa: F401
from .usefulness import forgotten, utility_kept  # noqa: F401


def overall(parts: dict, threats: dict) -> dict:
    """Shown against the threat models whose verdict is yes, once the class is forgotten and the retained
    classes kept; no when forgetting or usefulness failed or an attacker who sees predictions still tells
    the notes; the threat model that is not shown is named with its reason."""
    values = {k: v["verdict"] for k, v in parts.items()}
    tv = {k: v["verdict"] for k, v in threats.items()}
    evidence = {**values, "threat_models": tv, "shown_against": [k for k, v in tv.items() if v == YES]}
    words = {"forgotten": "forgetting", "utility_kept": "usefulness"}
    failed = [k for k, v in values.items() if v == NO]
    if failed:
        return verdict(NO, f"not shown: {', '.join(words[k] for k in failed)} failed", **evidence)
    if tv.get(OUTPUTS) == NO:
        return verdict(NO, f"not shown: {THREAT_MODELS[OUTPUTS]} still tells the forget notes apart", **evidence)
    open_ = [k for k, v in values.items() if v == INCONCLUSIVE]
    if open_:
        return verdict(INCONCLUSIVE, f"the data cannot decide {', '.join(words[k] for k in open_)}", **evidence)
    if not evidence["shown_against"]:
        return verdict(INCONCLUSIVE, "the class was forgotten and the other classes kept their F1, but no "
                                     "membership attack could tell the forget notes from unseen notes of the class "
                                     "even on the original model, so these tests cannot show whether an attacker "
                                     "could still tell them now", **evidence)
    shown = " and ".join(THREAT_MODELS[k] for k in evidence["shown_against"])
    rest = [f"not against {THREAT_MODELS[k]}: {threats[k]['reason']}" if tv[k] == NO else
            f"for {THREAT_MODELS[k]} the data cannot decide" for k in tv if tv[k] != YES]
    return verdict(YES, f"shown against {shown}" + (f"; {'; '.join(rest)}" if rest else ""), **evidence)


def compute_verdicts(r: dict, reference: dict | None = None, relearn: dict | None = None) -> dict:
    """All verdicts of a run's results. ``reference``: a retrain without the forget notes on the same data
    (:func:`steu_core.runs.record.reference_of`; default: the one the run recorded); ``relearn``: the run's
    relearning verdict, where a comparison measured one (it joins the model-file verdict)."""
    reference = reference if reference is not None else r.get("reference")
    parts = {"forgotten": forgotten(r), "utility_kept": utility_kept(r, reference)}
    threats = {OUTPUTS: threat_model(r, OUTPUTS, reference),
               MODEL_FILE: threat_model(r, MODEL_FILE, reference, relearn)}
    return {**parts, "threat_models": threats, "overall": overall(parts, threats)}


def run_verdicts(r: dict) -> dict:
    """The verdicts a run recorded; a run from before the threat models (or before verdicts were recorded)
    gets them computed from its figures."""
    recorded = r.get("verdicts") or {}
    return recorded if "threat_models" in recorded else compute_verdicts(r)


def headline(v: dict) -> str:
    """The overall verdict in the words every page and report leads with: "Yes, against an attacker who
    sees the model's predictions", "No", "Inconclusive"."""
    o = v["overall"]
    word = VERDICT_WORDS.get(o.get("verdict"), "n/a")
    shown = (o.get("evidence") or {}).get("shown_against") or []
    if o.get("verdict") == YES and shown and len(shown) < len(THREAT_MODELS):
        return f"{word}, against {' and '.join(THREAT_MODELS[k] for k in shown)}"
    return word


# What a privacy officer can do about each verdict that is not yes (a reference is missing: NO_REFERENCE)
NEXT_STEPS = {
    ("forgotten", NO): "Run again with more steps or more embedding rows (k or the budget), or compare methods on "
                       "the Compare page.",
    ("forgotten", INCONCLUSIVE): "Check the class and the forget set: the model did not recognise this class before, "
                                 "so there was nothing to forget.",
    ("utility_kept", NO): "Compare methods with retrain_oracle (Compare page): it shows whether retraining without the "
                          "notes loses as much; a lower forget weight spares the other classes.",
    ("utility_kept", INCONCLUSIVE): "More evaluation notes of the retained classes would narrow the intervals.",
    (OUTPUTS, NO): "Erase by retraining without the notes (retrain_oracle): this edit leaves the forget notes "
                   "distinguishable in the predictions.",
    (OUTPUTS, INCONCLUSIVE): "A comparison adds stronger attacks (RMIA with reference models); more held-out notes of "
                             "the class let a weaker signal show.",
    (MODEL_FILE, NO): REMEDY,
    (MODEL_FILE, INCONCLUSIVE): "A comparison adds the hidden-state and relearning attacks an attacker with the model "
                                "file would use.",
}
NO_REFERENCE = ("Run retrain_oracle once for this model, class and data (Compare page, or unlearn --method "
                "retrain_oracle): every later request is then read against a retrain without the notes.")


def next_steps(v: dict, reference_missing: bool = False) -> list[str]:
    """What the officer can do next, one sentence per verdict that is not yes (and about the missing
    reference, where the caller says one is missing); nothing when every verdict is yes."""
    steps = [NEXT_STEPS[key, item["verdict"]] for key, item in verdict_items(v).items()
             if (key, item.get("verdict")) in NEXT_STEPS]
    if reference_missing and steps:
        steps.append(NO_REFERENCE)
    return list(dict.fromkeys(steps))


def verdict_items(v: dict) -> dict:
    """{key: verdict} of every question, in the order a reader asks: overall, forgotten, usefulness, then
    the two threat models (:data:`QUESTIONS` has each one's question)."""
    return {k: v[k] for k in ("overall", "forgotten", "utility_kept")} | v["threat_models"]
