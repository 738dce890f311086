"""Relearning (comparisons only: the attacks are deep audits): is the class as hard to teach back as to a
model that never saw it?"""
from __future__ import annotations

from .base import INCONCLUSIVE, NO, YES, verdict


def relearning(row: dict, oracle: dict | None, original: dict | None = None) -> dict:
    """Is the class as hard to teach back as to a model that never saw it? Each relearning attacker's
    median steps and order-statistic interval against the same attacker's on the retrain oracle, never
    one model's strongest attacker against the other's: the attackers stop at different step bounds, so
    an attacker that never succeeded within its small bound would hide another's success within a larger
    one. "no": for some attacker the whole interval lies below the oracle's; "yes": for every attacker
    the median is at or above the oracle's, and at least one of them is one whose bar the model before
    unlearning (``original``'s row) clears at once (a bar the original itself cannot reach proves
    nothing when a model does not reach it either); anything else cannot be decided from these draws."""
    mine = attack_results(row)
    evidence = {"steps": row.get("relearn_strongest_steps"), "steps_ci": row.get("relearn_strongest_steps_ci"),
                "attack": row.get("relearn_strongest_attack")}
    if not mine:
        return verdict(INCONCLUSIVE, "no relearning attack was measured", **evidence)
    theirs = {a["attack"]: a for a in attack_results(oracle or {})}
    pairs = [(m, theirs[m["attack"]]) for m in mine if m["attack"] in theirs]
    if not theirs:
        return verdict(INCONCLUSIVE, f"the class came back after {_attack_result(mine[0])}, but no retrained "
                                     "reference was attacked, so there is nothing to say whether that is few",
                       **evidence)
    if not pairs:
        return verdict(INCONCLUSIVE, f"the class came back after {_attack_result(mine[0])}, but the retrained "
                                     f"reference was attacked only otherwise ({', '.join(theirs)}), so the two "
                                     "cannot be compared", **evidence)
    below = [(m, o) for m, o in pairs if m["steps_ci"][1] < o["steps_ci"][0]]
    if below:
        m, o = min(below, key=lambda pair: pair[0]["steps"])
        return verdict(NO, f"hidden, not removed: the class came back after {_attack_result(m)}; the retrained "
                           f"reference, which never saw it, needed {_steps_text(o)} against the same attacker",
                       **_decided_by(m, o))
    weak = unreached_bars(original)
    caveat = (f" ({', '.join(sorted(weak))}: the model before unlearning did not clear this attacker's bar at "
              "once, so not clearing it says little)") if weak else ""
    undecided = [(m, o) for m, o in pairs if m["steps"] < o["steps"]]
    if not undecided and any(m["attack"] not in weak for m, _ in pairs):
        against = "; ".join(f"{_attack_result(m)} against {_steps_text(o)}" for m, o in pairs)
        return verdict(YES, f"as hard to teach back as to the retrained reference, attacker by attacker: "
                            f"{against}{caveat}", **_decided_by(*min(pairs, key=lambda pair: pair[0]["steps"])))
    if not undecided:
        return verdict(INCONCLUSIVE, f"the class did not come back within the bars of {', '.join(sorted(weak))}, "
                                     "but the model before unlearning, which knows the class, did not clear them at "
                                     "once either, so these attacks cannot tell", **_decided_by(*pairs[0]))
    m, o = undecided[0]
    return verdict(INCONCLUSIVE, f"the class came back after {_attack_result(m)}, the retrained reference after "
                                 f"{_steps_text(o)}: the intervals overlap, so these draws cannot tell them apart",
                   **_decided_by(m, o))


def unreached_bars(original: dict | None) -> set[str]:
    """The attackers whose bar (forget F1 above the threshold) the model before unlearning did not clear
    at step 0 in every draw: the bar is near what a model that knows the class achieves."""
    return {a["attack"] for a in attack_results(original or {}) if a["steps_ci"][1] > 0}


def attack_results(row: dict) -> list[dict]:
    """Every relearning attacker's result on a comparison row ({attack, steps, steps_ci, text, ci_text}),
    strongest first; a row with only the strongest attacker's columns gives that one."""
    results = [a for a in row.get("relearn_by_attack") or [] if a.get("steps") is not None and a.get("steps_ci")]
    if results:
        return sorted(results, key=lambda a: a["steps"])
    if row.get("relearn_strongest_steps") is None or not row.get("relearn_strongest_steps_ci"):
        return []
    return [{"attack": row.get("relearn_strongest_attack") or "the strongest attacker",
             "steps": row["relearn_strongest_steps"], "steps_ci": row["relearn_strongest_steps_ci"],
             "text": row.get("relearn_strongest_text"), "ci_text": row.get("relearn_strongest_ci_text")}]


def _decided_by(mine: dict, oracle: dict) -> dict:
    return {"steps": mine["steps"], "steps_ci": mine["steps_ci"], "attack": mine["attack"],
            "oracle_steps": oracle["steps"], "oracle_steps_ci": oracle["steps_ci"]}


def _steps_text(result: dict) -> str:
    return f"{result.get('text')} steps {result.get('ci_text') or ''}".strip()


def _attack_result(result: dict) -> str:
    """"<median> steps [<interval>] (<attacker>)" of one relearning attacker's result."""
    return f"{_steps_text(result)} ({result['attack']})"
