"""Membership, one verdict per threat model: can an attacker who sees the predictions, or one who has the
model file, still tell the forget notes from unseen notes of the class? Each verdict states its power."""
from __future__ import annotations

from ..reference import TRAINED_WITHOUT_NOTES
from ..result_keys import LOSS_AUC_AFTER, LOSS_AUC_CI_AFTER
from .base import (CHANCE, INCONCLUSIVE, MODEL_FILE, NO, OUTPUTS, POWER_HINT, REMEDY, THREAT_MODELS, YES, ci_text, f3,
                   seed_count, verdict)


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
    name = attack["attack"]
    per_seed = (r.get("seeds") or {}).get("per_seed", [])
    options = [(s["attacks_after"][name]["auc"], s["attacks_after"][name]["auc_ci"])
               for s in per_seed if name in (s.get("attacks_after") or {})]
    if not options and name == "loss":  # per-seed records from before the attack list
        options = [(s.get(LOSS_AUC_AFTER), s.get(LOSS_AUC_CI_AFTER))
                   for s in per_seed if s.get(LOSS_AUC_AFTER) is not None]
    options = options or [(attack["after"].get("auc"), attack["after"].get("auc_ci"))]
    return max(options, key=lambda o: abs(o[0] - CHANCE) if o[0] is not None else -1)


def like_reference(a: dict, reference: dict | None) -> bool:
    """The attack is above chance against the retrain without the forget notes too (its interval there lies
    wholly above 0.5: members and non-members differ by something other than training, e.g. their source), and
    does no better against this model (the intervals overlap). Against a retrain at chance, above chance is a
    leak whatever the overlap."""
    ref = ((reference or {}).get("attacks_after") or {}).get(a["attack"]) or {}
    ci = ref.get("auc_ci")
    return bool(ci) and ci[0] > CHANCE and a["after_ci"][0] <= ci[1] and ci[0] <= a["after_ci"][1]


def attack_text(a: dict, when: str = "after") -> str:
    return f"{a['attack']} attack AUC {f3(a[f'{when}_auc'])}{ci_text(a[f'{when}_ci'])}"


def threat_model(r: dict, threat: str, reference: dict | None = None, relearn: dict | None = None) -> dict:
    """Can an attacker of this threat model still tell the forget notes (members) from unseen notes of the class?
    Power: some attack told them apart on the original (AUC interval wholly above 0.5). **no**: the interval
    after of an attack that scores the class's probability (loss, RMIA) lies wholly below 0.5 (over-forgetting:
    the notes stand out by being forgotten), or some attack's lies wholly above 0.5 unless the same attack is
    above chance against the retrain without the notes too and does no better here (:func:`like_reference`),
    or (model file) a relearning attacker brought the class back sooner than to that retrain; **inconclusive**:
    no attack had power; **yes**: otherwise."""
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
    if r.get("method") in TRAINED_WITHOUT_NOTES:
        a = max(rows, key=lambda x: abs(x["after_auc"] - CHANCE))
        return decided(YES, "this model was trained without these notes, so none of them is a member of its "
                            f"training: the {attack_text(a)} measures how the forget notes differ from the evaluation "
                            "notes of the class (their source or time), not their use", a)
    over = [a for a in rows if a["class_probability"] and a["after_ci"][1] < CHANCE]
    if over:
        a = min(over, key=lambda x: x["after_auc"])
        return decided(NO, f"over-forgetting: the {attack_text(a)} lies below chance, so the forgotten notes now "
                           "stand out by being forgotten", a)
    leaks = [a for a in rows if a["after_ci"][0] > CHANCE and not like_reference(a, reference)]
    if leaks:
        a = max(leaks, key=lambda x: x["after_auc"])
        ref = ((reference or {}).get("attacks_after") or {}).get(a["attack"])
        beyond = (f" (against the retrain without the notes: {f3(ref['auc'])}{ci_text(ref.get('auc_ci'))})"
                  if ref else "")
        return decided(NO, f"{THREAT_MODELS[threat]} still tells the forget notes from unseen notes of the class: "
                           f"{attack_text(a)} after (on the original {f3(a['before_auc'])}), above chance{beyond}", a)
    if relearn and relearn.get("verdict") == NO:
        return decided(NO, f"the class comes back sooner than to the retrain without the notes ({relearn['reason']})",
                       strongest)
    if not powered:
        return decided(INCONCLUSIVE, f"none of the attacks open to {THREAT_MODELS[threat]} told the forget notes "
                                     "from unseen notes of the class even on the original model (strongest: "
                                     f"{attack_text(strongest, 'before')}), so chance afterwards shows nothing; "
                                     f"{POWER_HINT}", strongest)
    against = "; every attack is at chance, or no better than against the retrain without the notes" \
        if base["reference"] else "; every attack is at chance"
    return decided(YES, f"the {attack_text(strongest, 'before')} on the original model is "
                        f"{f3(strongest['after_auc'])}{ci_text(strongest['after_ci'])} after{against}", strongest)


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
