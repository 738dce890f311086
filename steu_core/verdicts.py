"""Verdicts: the answers a run gives to "was the class forgotten?", "was the model's usefulness
kept?" and "can an attacker still tell the forgotten notes?", computed once from results.json and
rendered as they are by the dashboard, the PDF and the CLI.

Each verdict is ``{"verdict": "yes" | "no" | "inconclusive", "reason": "<sentence with the
figures>", "evidence": {...}}``. A test that had no power says "inconclusive", never "yes": a class
the model did not recognise before, an attack already at chance before, intervals too wide to decide.
Where a run has several seeds, each verdict takes the least favourable seed. The rules are stated
in docs/CONTRACTS.md and their thresholds are the constants below.
"""
from __future__ import annotations

from .format import number

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
             "membership": "Is a membership attacker back at chance?"}
RELEARN_QUESTION = "Is the class as hard to teach back as to a model that never saw it?"
VERDICT_WORDS = {YES: "Yes", NO: "No", INCONCLUSIVE: "Inconclusive"}


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


# -- forgotten ---------------------------------------------------------------------------------
def forgotten(r: dict) -> dict:
    before, after = r.get("forget_f1_before"), worst_seed_value(r, "forget_f1_after", max)
    ci = (r.get("utility_ci") or {}).get("forget_f1_before")
    evidence = {"forget_f1_before": before, "forget_f1_before_ci": ci, "forget_f1_after": after,
                "forget_f1_after_ci": (r.get("utility_ci") or {}).get("forget_f1_after"),
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
def utility_kept(r: dict, oracle: dict | None = None) -> dict:
    """No when a retained class lost F1 beyond its interval (and beyond what the retrain oracle lost,
    where a reference exists); inconclusive when an interval is too wide to tell."""
    rows = [row for row in (r.get("collateral") or {}).get("per_class", []) if not row.get("forgotten")]
    oracle_change = oracle_changes(r, oracle)
    lost, undecided, like_oracle = [], [], []
    for row in rows:
        lo, hi = worst_change_ci(r, row)
        if hi < 0:
            limit = oracle_change.get(row["label"])
            (like_oracle if limit is not None and hi >= limit else lost).append(row["label"])
        elif hi - lo > UNDECIDABLE_WIDTH:
            undecided.append(row["label"])
    evidence = {"classes_lost": lost, "classes_lost_like_oracle": like_oracle, "classes_undecided": undecided,
                "oracle_reference": bool(oracle_change), "retain_f1_before": r.get("retain_f1_before"),
                "retain_f1_after": r.get("retain_f1_after"), "seeds": seed_count(r)}
    if not rows:
        return verdict(INCONCLUSIVE, "no per-class figures with intervals were recorded", **evidence)
    oracle_note = (f"; {', '.join(like_oracle)} lost F1 but no more than the retrain oracle does"
                   if like_oracle else "")
    if lost:
        beyond = (" and beyond what the retrain oracle loses" if oracle_change else
                  "; no retrain-oracle reference exists for this model and class (a comparison with retrain_oracle "
                  "shows whether retraining would lose as much)")
        return verdict(NO, f"{', '.join(class_loss_text(r, c) for c in lost)} lost F1 beyond the 95 % "
                           f"interval{beyond}{oracle_note}", **evidence)
    if undecided:
        return verdict(INCONCLUSIVE, f"the data cannot tell for {', '.join(undecided)}: the interval of the change "
                                     f"is wider than {UNDECIDABLE_WIDTH}{oracle_note}", **evidence)
    return verdict(YES, f"no retained class lost F1 beyond its 95 % interval{oracle_note}", **evidence)


def class_loss_text(r: dict, label: str) -> str:
    before = (r.get("per_class_f1_before") or {}).get(label)
    after = worst_class_f1_after(r, label)
    return f"{label} ({f3(before)} -> {f3(after)})"


def worst_change_ci(r: dict, row: dict) -> list[float]:
    """The change interval of a class; with several seeds, the seed where the class fared worst."""
    per_seed = [s.get("per_class_change_ci", {}).get(row["label"]) for s in (r.get("seeds") or {}).get("per_seed", [])]
    cis = [ci for ci in per_seed if ci] or [row["change_ci"]]
    return min(cis, key=lambda ci: ci[1])


def worst_class_f1_after(r: dict, label: str) -> float | None:
    values = [s.get("per_class_f1_after", {}).get(label) for s in (r.get("seeds") or {}).get("per_seed", [])]
    values = [v for v in values if v is not None] or [(r.get("per_class_f1_after") or {}).get(label)]
    return min(values) if values and values[0] is not None else None


def oracle_changes(r: dict, oracle: dict | None) -> dict:
    """How much each class's F1 changed under the retrain oracle (its after minus this run's before)."""
    if not oracle:
        return {}
    before = r.get("per_class_f1_before") or {}
    after = oracle.get("per_class_f1_after") or {}
    return {c: after[c] - before[c] for c in before if c in after}


# -- membership --------------------------------------------------------------------------------
def membership(r: dict) -> dict:
    mia = r.get("mia") or {}
    before, ci_before = mia.get("loss_auc_before"), mia.get("loss_auc_ci_before")
    after, ci_after = worst_seed_auc(r)
    evidence = {"loss_auc_before": before, "loss_auc_before_ci": ci_before, "loss_auc_after": after,
                "loss_auc_after_ci": ci_after, "n_members": mia.get("n_members"),
                "n_nonmembers": mia.get("n_nonmembers"), "members": r.get("members"), "seeds": seed_count(r)}
    if mia.get("skipped") or before is None or ci_before is None or after is None or ci_after is None:
        return verdict(INCONCLUSIVE, mia.get("skipped") or "membership inference was not measured", **evidence)
    members = members_note(r)
    if ci_after[1] < CHANCE:  # a leak whatever the attack did before: the notes stand out as forgotten
        return verdict(NO, f"over-unlearning: AUC after {f3(after)}{ci_text(ci_after)} lies below chance, so the "
                           f"forgotten notes now stand out by being forgotten{members}", **evidence)
    if ci_before[0] <= CHANCE <= ci_before[1]:
        return verdict(INCONCLUSIVE, f"the attack on the original model could not be told from chance: AUC "
                                     f"{f3(before)}{ci_text(ci_before)}, so chance after unlearning shows nothing"
                                     f"{members}", **evidence)
    if ci_after[0] > CHANCE:
        return verdict(NO, f"an attacker still tells the forgotten notes from held-out ones: AUC after "
                           f"{f3(after)}{ci_text(ci_after)} (before {f3(before)}){members}", **evidence)
    return verdict(YES, f"the attack fell from AUC {f3(before)}{ci_text(ci_before)} to chance: {f3(after)}"
                        f"{ci_text(ci_after)}{members}", **evidence)


def members_note(r: dict) -> str:
    m = r.get("members") or {}
    if m and m.get("found") != m.get("total"):
        return (f"; measured on the {m['found']} of {m['total']} forget notes found in the training file "
                "(the others were never members)")
    return ""


def worst_seed_auc(r: dict) -> tuple[float | None, list | None]:
    """The loss-attack AUC after unlearning, and its interval, of the seed farthest from chance."""
    mia = r.get("mia") or {}
    options = [(s.get("loss_auc_after"), s.get("loss_auc_ci_after")) for s in (r.get("seeds") or {}).get("per_seed", [])]
    options = [o for o in options if o[0] is not None] or [(mia.get("loss_auc_after"), mia.get("loss_auc_ci_after"))]
    return max(options, key=lambda o: abs(o[0] - CHANCE) if o[0] is not None else -1)


# -- relearning (comparisons only: the attacks are deep audits) ----------------------------------
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


# -- together ----------------------------------------------------------------------------------
def overall(parts: dict) -> dict:
    values = {k: v["verdict"] for k, v in parts.items()}
    failed = [k for k, v in values.items() if v == NO]
    open_ = [k for k, v in values.items() if v == INCONCLUSIVE]
    words = {"forgotten": "forgetting", "utility_kept": "usefulness", "membership": "membership"}
    if failed:
        return verdict(NO, f"not shown: {', '.join(words[k] for k in failed)} failed", **values)
    if open_:
        return verdict(INCONCLUSIVE, f"the data cannot decide {', '.join(words[k] for k in open_)}", **values)
    return verdict(YES, "the class was forgotten, the other classes kept their F1, and the attack is at chance",
                   **values)


def compute_verdicts(r: dict, oracle: dict | None = None) -> dict:
    """All verdicts of a run's results (``oracle``: the results of a retrain-oracle run on the same
    model and class, where a comparison made one)."""
    parts = {"forgotten": forgotten(r), "utility_kept": utility_kept(r, oracle), "membership": membership(r)}
    return {**parts, "overall": overall(parts)}


def run_verdicts(r: dict) -> dict:
    """The verdicts a run recorded; a run from before verdicts were recorded gets them computed
    from its figures (without intervals most of them are then inconclusive)."""
    return r.get("verdicts") or compute_verdicts(r)


def worst_seed_value(r: dict, key: str, pick) -> float | None:
    values = [s.get(key) for s in (r.get("seeds") or {}).get("per_seed", []) if s.get(key) is not None]
    return pick(values) if values else r.get(key)


def seed_count(r: dict) -> int:
    return int((r.get("seeds") or {}).get("n", 1) or 1)
