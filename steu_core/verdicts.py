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

from .format import change, number

YES, NO, INCONCLUSIVE = "yes", "no", "inconclusive"
# The original model must have recognised the class: forget F1 before at least this (and its
# 95 % interval clear of 0), or there was nothing to forget.
RECOGNISED_FLOOR = 0.2
# Forgotten: forget F1 after at most this on held-out notes, in every seed.
FORGOTTEN_MAX = 0.05
# A retained class whose interval of the F1 change is wider than this cannot be judged.
UNDECIDABLE_WIDTH = 0.5
CHANCE = 0.5
OUTPUTS, MODEL_FILE = "outputs", "model_file"
THREAT_MODELS = {OUTPUTS: "an attacker who sees the model's predictions",
                 MODEL_FILE: "an attacker who has the model file"}
THREAT_MODEL_SHORT = {OUTPUTS: "sees predictions", MODEL_FILE: "has the model file"}  # table cells
QUESTIONS = {"overall": "Is the forgetting shown?", "forgotten": "Was the class forgotten?",
             "utility_kept": "Was the model's usefulness kept?",
             OUTPUTS: "Could someone who only sees this model's predictions tell that these notes were used?",
             MODEL_FILE: "Does the model file still carry what it learned from these notes?"}
RELEARN_QUESTION = "Is the class as hard to teach back as to a model that never saw it?"
VERDICT_WORDS = {YES: "Yes", NO: "No", INCONCLUSIVE: "Inconclusive"}
REMEDY = ("Only a model trained without these notes is free of what its encoder learned from them: a full retrain "
          "without the notes (the retrain_oracle method) would remove it.")
POWER_HINT = ("more held-out notes of the class narrow the intervals, and a model that has memorised its "
              "training notes more (trained for more epochs) gives the attack something to find")
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
                "retain_f1_before": r.get("retain_f1_before"), "retain_f1_after": r.get("retain_f1_after"),
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
    key = "retained_f1_after" if basis == BASIS_RETAINED else "per_class_f1_after"
    values = [s.get(key, {}).get(row["label"]) for s in (r.get("seeds") or {}).get("per_seed", [])]
    values = [v for v in values if v is not None] or [row.get("f1_after")]
    return min(values) if values and values[0] is not None else None


def reference_changes(rows: list[dict], reference: dict | None) -> dict:
    """How much each retained class's F1 changed under the retrain without the forget notes (its F1 after
    minus this run's before, on the retained-class notes)."""
    after = (reference or {}).get("retained_f1_after") or {}
    return {row["label"]: after[row["label"]] - row["f1_before"] for row in rows
            if row["label"] in after and row.get("f1_before") is not None}


# -- membership, one verdict per threat model ---------------------------------------------------
def attack_rows(r: dict, threat: str) -> list[dict]:
    """The attacks an attacker of ``threat`` can run, each {attack, class_probability, before_auc, before_ci,
    after_auc, after_ci} with the least favourable seed's figures after. An attacker who has the model file also sees
    the predictions, so ``model_file`` holds the output attacks too. A record from before the attack list
    gives its loss and confidence attacks."""
    mia = r.get("mia") or {}
    listed = mia.get("attacks") or {}
    attacks = list(listed.get(OUTPUTS) or []) + (list(listed.get(MODEL_FILE) or []) if threat == MODEL_FILE else [])
    if not listed:
        attacks = [{"attack": name, "learned": False, "over_forgetting_below_chance": name == "loss",
                    "before": {"auc": mia.get(f"{key}_auc_before"), "auc_ci": mia.get(f"{key}_auc_ci_before")},
                    "after": {"auc": mia.get(f"{key}_auc_after"), "auc_ci": mia.get(f"{key}_auc_ci_after")}}
                   for name, key in (("loss", "loss"), ("confidence", "conf"))]
    rows = []
    for a in attacks:
        after, after_ci = worst_seed_attack(r, a)
        if None in (a["before"].get("auc"), a["before"].get("auc_ci"), after, after_ci):
            continue
        rows.append({"attack": a["attack"], "class_probability": bool(a.get("over_forgetting_below_chance")),
                     "before_auc": a["before"]["auc"],
                     "before_ci": a["before"]["auc_ci"], "after_auc": after, "after_ci": after_ci})
    return rows


def worst_seed_attack(r: dict, attack: dict) -> tuple[float | None, list | None]:
    """An attack's AUC after unlearning, and its interval, of the seed farthest from chance."""
    options = [(s["attacks_after"][attack["attack"]]["auc"], s["attacks_after"][attack["attack"]]["auc_ci"])
               for s in (r.get("seeds") or {}).get("per_seed", []) if attack["attack"] in (s.get("attacks_after") or {})]
    if not options and attack["attack"] == "loss":  # per-seed records from before the attack list
        options = [(s.get("loss_auc_after"), s.get("loss_auc_ci_after"))
                   for s in (r.get("seeds") or {}).get("per_seed", []) if s.get("loss_auc_after") is not None]
    options = options or [(attack["after"].get("auc"), attack["after"].get("auc_ci"))]
    return max(options, key=lambda o: abs(o[0] - CHANCE) if o[0] is not None else -1)


def like_reference(a: dict, reference: dict | None) -> bool:
    """The attack does no better against this model than against the retrain without the forget notes."""
    ref = ((reference or {}).get("attacks_after") or {}).get(a["attack"]) or {}
    ci = ref.get("auc_ci")
    return bool(ci) and a["after_ci"][0] <= ci[1] and ci[0] <= a["after_ci"][1]


def attack_text(a: dict, when: str = "after") -> str:
    return f"{a['attack']} attack AUC {f3(a[f'{when}_auc'])}{ci_text(a[f'{when}_ci'])}"


def threat_model(r: dict, threat: str, reference: dict | None = None, relearn: dict | None = None) -> dict:
    """Can an attacker of this threat model still tell the forget notes (members) from unseen notes of the class?
    Power: some attack told them apart on the original (AUC interval wholly above 0.5). **no**: the interval
    after of an attack that scores the class's probability (loss, RMIA) lies wholly below 0.5 (over-forgetting:
    the notes stand out by being forgotten),
    or some attack's wholly above 0.5 and apart from its interval against the retrain without the notes, or
    (model file) a relearning attacker brought the class back sooner than to that retrain; **inconclusive**:
    no attack had power; **yes**: otherwise (every attack after at chance, or no better than against the
    retrain)."""
    reference = reference if reference is not None else r.get("reference")
    rows = attack_rows(r, threat)
    powered = [a for a in rows if a["before_ci"][0] > CHANCE]
    strongest = max(powered or rows, key=lambda a: a["before_auc"], default=None)
    mia = r.get("mia") or {}
    base = {"threat_model": threat, "attacker": THREAT_MODELS[threat], "attacks": rows,
            "n_members": mia.get("n_members"), "n_nonmembers": mia.get("n_nonmembers"),
            "reference": bool(reference and reference.get("attacks_after")), "seeds": seed_count(r)}
    if threat == MODEL_FILE:
        base["relearning"] = (relearn or {}).get("verdict")
        if mia.get("attacks") and not (mia["attacks"].get(MODEL_FILE) or []):
            base["hidden_states"] = mia["attacks"].get("model_file_skipped") or "no hidden-state attack was measured"

    def decided(value: str, reason: str, a: dict | None) -> dict:
        remedy = f". {REMEDY}" if value == NO and threat == MODEL_FILE else ""
        return verdict(value, reason + members_note(r) + remedy, **base, **attack_evidence(a, strongest))

    if mia.get("skipped") or not rows:
        return decided(INCONCLUSIVE, mia.get("skipped") or "membership inference was not measured", None)
    over = [a for a in rows if a["class_probability"] and a["after_ci"][1] < CHANCE]
    if over:
        a = min(over, key=lambda x: x["after_auc"])
        return decided(NO, f"over-forgetting: the {attack_text(a)} lies below chance, so the forgotten notes now "
                           "stand out by being forgotten", a)
    leaks = [a for a in rows if a["after_ci"][0] > CHANCE and not like_reference(a, reference)]
    if leaks:
        a = max(leaks, key=lambda x: x["after_auc"])
        beyond = " and above its AUC against the retrain without the notes" if base["reference"] else ""
        return decided(NO, f"{THREAT_MODELS[threat]} still tells the forget notes from unseen notes of the class: "
                           f"{attack_text(a)} after (on the original {f3(a['before_auc'])}), above chance{beyond}", a)
    if relearn and relearn.get("verdict") == NO:
        return decided(NO, f"the class comes back sooner than to the retrain without the notes ({relearn['reason']})",
                       strongest)
    if not powered:
        return decided(INCONCLUSIVE, f"no attack {THREAT_MODELS[threat]} can run told the forget notes from unseen "
                                     f"notes of the class on the original model (strongest: {attack_text(strongest, 'before')}), "
                                     f"so chance afterwards shows nothing; {POWER_HINT}", strongest)
    against = "; every attack is at chance or no better than against the retrain without the notes" \
        if base["reference"] else "; every attack is at chance"
    return decided(YES, f"the {attack_text(strongest, 'before')} on the original fell to "
                        f"{f3(strongest['after_auc'])}{ci_text(strongest['after_ci'])}{against}", strongest)


def attack_evidence(deciding: dict | None, strongest: dict | None) -> dict:
    """The results.json evidence of a threat-model verdict: the power (the strongest attack on the original)
    and the deciding attack's AUC after, each with its interval."""
    power = strongest or {}
    a = deciding or strongest or {}
    return {"attack": a.get("attack"), "power_attack": power.get("attack"), "power_auc": power.get("before_auc"),
            "power_auc_ci": power.get("before_ci"), "after_auc": a.get("after_auc"), "after_auc_ci": a.get("after_ci")}


def members_note(r: dict) -> str:
    m = r.get("members") or {}
    if m and m.get("found") != m.get("total"):
        return (f"; measured on the {m['found']} of {m['total']} forget notes found in the training file "
                "(the others were never members)")
    return ""


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
                                     "membership attack had power on the original model, so the data cannot decide "
                                     "whether an attacker could still tell the forget notes", **evidence)
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


def verdict_items(v: dict) -> dict:
    """{key: verdict} of every question, in the order a reader asks: overall, forgotten, usefulness, then
    the two threat models (:data:`QUESTIONS` has each one's question)."""
    return {k: v[k] for k in ("overall", "forgotten", "utility_kept")} | v["threat_models"]


def worst_seed_value(r: dict, key: str, pick) -> float | None:
    values = [s.get(key) for s in (r.get("seeds") or {}).get("per_seed", []) if s.get(key) is not None]
    return pick(values) if values else r.get(key)


def seed_count(r: dict) -> int:
    return int((r.get("seeds") or {}).get("n", 1) or 1)
