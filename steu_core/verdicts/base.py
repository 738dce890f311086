"""What every verdict shares: the three values, the thresholds, the questions and words every page prints,
the verdict record itself, number formats, and the least-favourable-seed helpers."""
from __future__ import annotations

from ..format import number
from ..threat_models import MODEL_FILE, OUTPUTS, THREAT_MODEL_SHORT, THREAT_MODELS  # noqa: F401

YES, NO, INCONCLUSIVE = "yes", "no", "inconclusive"
# The original model must have recognised the class: forget F1 before at least this (and its
# 95 % interval clear of 0), or there was nothing to forget.
RECOGNISED_FLOOR = 0.2
# Forgotten: forget F1 after at most this on held-out notes, in every seed.
FORGOTTEN_MAX = 0.05
# A retained class whose interval of the F1 change is wider than this cannot be judged.
UNDECIDABLE_WIDTH = 0.5
CHANCE = 0.5
QUESTIONS = {"overall": "Is the forgetting shown?", "forgotten": "Was the class forgotten?",
             "utility_kept": "Was the model's usefulness kept?",
             # asked so that "Yes" is the protected answer, as in every other question: "Could someone tell ...?
             # Yes: every attack is at chance" read as the opposite of what it says
             OUTPUTS: "Are these notes hidden from someone who only sees this model's predictions?",
             MODEL_FILE: "Is the model file free of what it learned from these notes?"}
RELEARN_QUESTION = "Is the class as hard to teach back as to a model that never saw it?"
VERDICT_WORDS = {YES: "Yes", NO: "No", INCONCLUSIVE: "Inconclusive"}
REMEDY = ("Only a model trained without these notes is free of what its encoder learned from them: a full retrain "
          "without the notes (the retrain_oracle method) would remove it.")
POWER_HINT = ("the original model treats these training notes like unseen notes of the class as far as these "
              "attacks can tell; more held-out notes of the class would let a weaker signal show")
BASIS_RETAINED = "retained-class notes"
BASIS_ALL = "all notes (re-routed forgotten notes included)"


def f3(x) -> str:
    return number(x, 3)


def ci_text(ci) -> str:
    """" (95 % interval [0.451, 0.602])", or nothing where no interval was measured."""
    if not ci:
        return ""
    lo, hi = (number(x, 3) for x in ci)
    return f" (95 % interval {lo} to {hi})"


def verdict(value: str, reason: str, **evidence) -> dict:
    return {"verdict": value, "reason": reason, "evidence": evidence}



def worst_seed_value(r: dict, key: str, pick) -> float | None:
    values = [s.get(key) for s in (r.get("seeds") or {}).get("per_seed", []) if s.get(key) is not None]
    return pick(values) if values else r.get(key)


def seed_count(r: dict) -> int:
    return int((r.get("seeds") or {}).get("n", 1) or 1)
