"""Verdicts that a sceptic accepts: each test builds the situation in which a verdict would lie."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from steu_core.audits import AuditInputs, run_audits
from steu_core import verdicts
from steu_core.runs.record import reference_of
from steu_core.verdicts import INCONCLUSIVE, MODEL_FILE, NO, OUTPUTS, YES, compute_verdicts

LABELS = ["a", "b", "c"]
FORGET = 2


def _logits(pred: np.ndarray) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.as_tensor(pred), len(LABELS)).float() * 5.0


def results_of(y, before, after, member_before, member_after, seed: int = 0) -> dict:
    """The figures a run records, computed by the real audits from synthetic predictions."""
    inp = AuditInputs(labels=LABELS, forget_class_id=FORGET, eval_labels=y,
                      eval_logits_before=_logits(before), eval_logits_after=_logits(after),
                      member_logits_before=member_before, member_logits_after=member_after, seed=seed)
    return {"forget_class": "c", "labels": LABELS, **run_audits(inp, ["utility", "mia", "collateral"])}


def _members(n: int, p_true: float, rng) -> torch.Tensor:
    """Logits whose probability of the forget class is about ``p_true`` (with noise)."""
    p = np.clip(p_true + rng.normal(0, 0.05, n), 0.01, 0.99)
    out = np.zeros((n, len(LABELS)))
    out[:, FORGET] = np.log(p)
    out[:, 0] = np.log(1 - p)
    out[:, 1] = -20
    return torch.as_tensor(out, dtype=torch.float32)


@pytest.fixture
def clean():
    """Class c recognised before and gone after; its notes go to a and b; a and b untouched."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 100)
    before = y.copy()
    before[rng.choice(300, 15, replace=False)] = rng.integers(0, 3, 15)
    after = before.copy()
    after[y == 2] = rng.integers(0, 2, 100)
    # members had lower loss before (a real attack), and after look like unseen notes
    members_before, members_after = _members(80, 0.95, rng), _members(80, 0.02, rng)
    return y, before, after, members_before, members_after


def test_a_clean_forgetting_is_yes_with_reasons(clean):
    r = results_of(*clean)
    v = compute_verdicts(r)
    assert v["forgotten"]["verdict"] == YES and "fell from" in v["forgotten"]["reason"]
    assert set(v) == {"forgotten", "utility_kept", "threat_models", "overall"}
    assert set(v["threat_models"]) == {OUTPUTS, MODEL_FILE}
    parts = [v[k]["verdict"] for k in ("forgotten", "utility_kept")]
    if NO in parts or v["threat_models"][OUTPUTS]["verdict"] == NO:
        assert v["overall"]["verdict"] == NO  # the overall verdict follows its parts, never better


def test_notes_re_routed_to_neighbours_keep_utility(clean):
    """The forgotten class's notes must go somewhere: counted on all notes, a and b lose precision; on the
    retained-class notes (the field's measure) nothing was damaged, so usefulness is kept."""
    r = results_of(*clean)
    all_notes = {row["label"]: row for row in r["collateral"]["per_class"]}
    assert all_notes["a"]["change_ci"][1] < 0 or all_notes["b"]["change_ci"][1] < 0  # the old rule's "lost"
    v = compute_verdicts(r)["utility_kept"]
    assert v["verdict"] == YES and v["evidence"]["basis"] == verdicts.BASIS_RETAINED
    assert "on the retained-class notes" in v["reason"] and "retained macro F1" in v["reason"]
    went = v["evidence"]["forgotten_notes_went"]
    assert went["a"]["count"] + went["b"]["count"] == 100  # shown apart, deciding nothing


def test_a_class_the_model_never_recognised_is_inconclusive_not_forgotten(clean):
    y, before, after, mb, ma = clean
    before = before.copy()
    before[y == 2] = 0                       # the original never predicted c: nothing to forget
    r = results_of(y, before, after, mb, ma)
    v = compute_verdicts(r)
    assert r["forget_f1_before"] == 0.0 and r["forget_f1_after"] == 0.0
    assert v["forgotten"]["verdict"] == INCONCLUSIVE
    assert "did not recognise this class before" in v["forgotten"]["reason"]
    assert v["overall"]["verdict"] != YES


def test_a_collapsed_retained_class_is_named(clean):
    y, before, after, mb, ma = clean
    after = after.copy()
    after[y == 1] = 0                        # every note of b now predicted a: b collapses
    r = results_of(y, before, after, mb, ma)
    v = compute_verdicts(r)
    assert v["utility_kept"]["verdict"] == NO
    assert "b (" in v["utility_kept"]["reason"] and "b" in v["utility_kept"]["evidence"]["classes_lost"]
    assert v["overall"]["verdict"] == NO


def test_a_loss_like_the_references_is_not_counted_against_the_method(clean):
    y, before, after, mb, ma = clean
    after = after.copy()
    after[y == 1] = np.where(np.arange(100) < 60, 1, 0)   # b loses 40 % of its notes to a
    r = results_of(y, before, after, mb, ma)
    assert compute_verdicts(r)["utility_kept"]["verdict"] == NO
    # retraining without the forget notes loses exactly as much (read from its confusion matrix)
    reference = reference_of({"method": "retrain_oracle", "labels": LABELS, "forget_class_id": FORGET,
                              "confusion_after": r["confusion_after"]})
    v = compute_verdicts(r, reference)
    assert v["utility_kept"]["verdict"] == YES
    assert "no more than the retrain without the forget notes" in v["utility_kept"]["reason"]


def test_a_record_from_before_the_retained_notes_view_is_judged_on_all_notes(clean):
    r = results_of(*clean)
    del r["collateral"]["retained_notes"]
    v = compute_verdicts(r)["utility_kept"]
    assert v["evidence"]["basis"] == verdicts.BASIS_ALL and v["verdict"] == NO


def test_seeds_take_the_least_favourable(clean):
    r = results_of(*clean)
    assert compute_verdicts(r)["forgotten"]["verdict"] == YES
    r["seeds"] = {"n": 2, "per_seed": [{"forget_f1_after": 0.0}, {"forget_f1_after": 0.4}]}
    v = compute_verdicts(r)
    assert v["forgotten"]["verdict"] == NO and "highest of 2 seeds" in v["forgotten"]["reason"]


# --- one verdict per threat model ---------------------------------------------------------------
def threat_results(member_shift_before: float, member_shift_after: float, feat_shift_before: float,
                   feat_shift_after: float, seed: int = 0) -> dict:
    """Class c forgotten (its notes re-routed to a and b); members (80 forget notes) drawn like the 100 unseen
    notes of c, with their class-c logit shifted by ``member_shift_*`` (what an attacker who sees predictions
    can find) and their head inputs shifted by ``feat_shift_*`` (what only the model file shows)."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], 100)
    after_pred = np.where(y == FORGET, rng.integers(0, 2, 300), y)

    def logits(pred) -> torch.Tensor:
        return _logits(pred) * 0.6 + torch.as_tensor(rng.normal(0, 1, (len(pred), 3)), dtype=torch.float32)

    def feats(n: int, shift: float) -> torch.Tensor:
        x = rng.normal(0, 1, (n, 8))
        x[:, 0] += shift
        return torch.as_tensor(x, dtype=torch.float32)

    mem_before, mem_after = logits(np.full(80, FORGET)), logits(rng.integers(0, 2, 80))
    mem_before[:, FORGET] += member_shift_before
    mem_after[:, FORGET] += member_shift_after
    inp = AuditInputs(labels=LABELS, forget_class_id=FORGET, eval_labels=y, eval_logits_before=logits(y),
                      eval_logits_after=logits(after_pred), member_logits_before=mem_before,
                      member_logits_after=mem_after, eval_feats_before=feats(300, 0), eval_feats_after=feats(300, 0),
                      member_feats_before=feats(80, feat_shift_before),
                      member_feats_after=feats(80, feat_shift_after), seed=seed)
    return {"forget_class": "c", "labels": LABELS, **run_audits(inp, ["utility", "mia", "collateral"])}


def test_the_next_steps_follow_the_verdicts_that_are_not_yes():
    leak = compute_verdicts(threat_results(2.0, 1.2, 0.0, 0.0))
    steps = verdicts.next_steps(leak, reference_missing=True)
    assert verdicts.NEXT_STEPS[OUTPUTS, NO] in steps and steps[-1] == verdicts.NO_REFERENCE
    hidden_only = compute_verdicts(threat_results(2.0, 0.0, 1.5, 1.5))
    assert verdicts.next_steps(hidden_only) == [verdicts.REMEDY]
    settled = {k: {"verdict": YES} for k in ("overall", "forgotten", "utility_kept")}
    assert verdicts.next_steps({**settled, "threat_models": {OUTPUTS: {"verdict": YES}, MODEL_FILE: {"verdict": YES}}},
                               reference_missing=True) == []


def test_a_leak_only_in_the_hidden_states_is_yes_for_predictions_and_no_for_the_model_file():
    r = threat_results(member_shift_before=2.0, member_shift_after=0.0, feat_shift_before=1.5, feat_shift_after=1.5)
    v = compute_verdicts(r)
    outputs, model_file = v["threat_models"][OUTPUTS], v["threat_models"][MODEL_FILE]
    assert outputs["verdict"] == YES, outputs
    assert outputs["evidence"]["power_auc_ci"][0] > 0.5 and outputs["evidence"]["attack"]
    assert model_file["verdict"] == NO and model_file["evidence"]["attack"] == "learned (head input)", model_file
    assert model_file["evidence"]["after_auc_ci"][0] > 0.5
    assert v["overall"]["verdict"] == YES and v["overall"]["evidence"]["shown_against"] == [OUTPUTS]
    assert "shown against an attacker who sees the model's predictions" in v["overall"]["reason"]
    assert "not against an attacker who has the model file" in v["overall"]["reason"]
    assert verdicts.REMEDY in v["overall"]["reason"]
    assert verdicts.headline(v) == "Yes, against an attacker who sees the model's predictions"


def test_attacks_without_power_on_the_original_are_inconclusive():
    r = threat_results(0.0, 0.0, 0.0, 0.0, seed=1)  # (seed 0's members happen to differ: a loss AUC of 0.39)
    v = compute_verdicts(r)
    for threat in (OUTPUTS, MODEL_FILE):
        t = v["threat_models"][threat]
        assert t["verdict"] == INCONCLUSIVE and "on the original model" in t["reason"], t
        assert t["evidence"]["power_auc_ci"][0] <= 0.5
    assert v["overall"]["verdict"] == INCONCLUSIVE and verdicts.headline(v) == "Inconclusive"


def test_an_attack_still_above_chance_is_no_unless_the_retrain_does_as_well():
    r = threat_results(2.0, 1.2, 0.0, 0.0)
    v = compute_verdicts(r)
    t = v["threat_models"][OUTPUTS]
    assert t["verdict"] == NO and "still tells" in t["reason"] and v["overall"]["verdict"] == NO
    # a retrain without the notes that the same attacks separate as well (e.g. notes that differ by source)
    reference = {"attacks_after": {a["attack"]: {"auc": a["after_auc"], "auc_ci": a["after_ci"]}
                                   for a in t["evidence"]["attacks"]}}
    assert compute_verdicts(r, reference)["threat_models"][OUTPUTS]["verdict"] == YES
    # a retrain at chance with an interval that reaches this model's (Medical Abstracts, STEU seed 0: 0.584
    # [0.514, 0.650] against the retrain's 0.498 [0.433, 0.564]) excuses nothing: the retrain shows no signal
    at_chance = {"attacks_after": {a["attack"]: {"auc": 0.5, "auc_ci": [0.45, a["after_ci"][0] + 0.01]}
                                   for a in t["evidence"]["attacks"]}}
    v = compute_verdicts(r, at_chance)["threat_models"][OUTPUTS]
    assert v["verdict"] == NO and "against the retrain without the notes: 0.500" in v["reason"]


@pytest.mark.parametrize("method", ["retrain_oracle", "erased"])
def test_a_model_trained_without_the_notes_has_no_members_whatever_the_attack_finds(method):
    """The same figures that make an edit's verdict "no": on a model trained without the notes (measured on the
    sample data: an erased model's confidence attack at 0.584 [0.508, 0.657]), the signal is how the forget notes
    differ from the evaluation notes, not membership."""
    r = threat_results(2.0, 1.2, 0.0, 0.0)
    assert compute_verdicts(r)["threat_models"][OUTPUTS]["verdict"] == NO
    t = compute_verdicts({**r, "method": method})["threat_models"][OUTPUTS]
    assert t["verdict"] == YES and "trained without these notes" in t["reason"], t
    assert t["evidence"]["after_auc_ci"][0] > 0.5, "the attack's figures are still reported"


def test_an_auc_wholly_below_chance_is_flagged_as_over_forgetting():
    r = threat_results(2.0, -4.0, 0.0, 0.0)
    assert r["mia"]["loss_auc_ci_after"][1] < 0.5
    t = compute_verdicts(r)["threat_models"][OUTPUTS]
    assert t["verdict"] == NO and "over-forgetting" in t["reason"]


def test_the_learned_attack_is_never_scored_on_the_notes_it_was_fit_on():
    """Pure noise in many dimensions: an attacker scored on its own training notes would separate them
    perfectly; cross-validated on disjoint halves it finds nothing."""
    from sklearn.linear_model import LogisticRegression

    from steu_core.audits.mia import learned_scores
    from steu_core.stats import roc_auc

    rng = np.random.default_rng(3)
    x, n = rng.normal(0, 1, (180, 150)), 80
    y = np.r_[np.ones(n), np.zeros(100)]
    fitted_on_all = LogisticRegression(C=1.0, max_iter=2000).fit(x, y).predict_proba(x)[:, 1]
    assert roc_auc(fitted_on_all[:n], fitted_on_all[n:]) > 0.95  # what scoring on the fitted notes would say
    members, nonmembers = learned_scores(x, n, seed=0)
    assert roc_auc(members, nonmembers) < 0.65
    r = threat_results(0.0, 0.0, 0.0, 0.0, seed=1)
    learned = [a for a in r["mia"]["attacks"][MODEL_FILE] if a["attack"] == "learned (head input)"][0]
    assert learned["before"]["auc_ci"][0] <= 0.5


def test_a_record_from_before_the_threat_models_gets_them_from_its_loss_and_confidence_attacks(clean):
    r = results_of(*clean)
    del r["mia"]["attacks"]
    r["verdicts"] = {"forgotten": {}, "utility_kept": {}, "membership": {}, "overall": {}}  # as recorded then
    v = verdicts.run_verdicts(r)
    assert [a["attack"] for a in v["threat_models"][OUTPUTS]["evidence"]["attacks"]] == ["loss", "confidence"]


# --- end to end on the tiny model --------------------------------------------------------------
FAST = {"max_steps": 40, "lr_rows": 0.05, "lr_head": 0.02, "min_df": 2, "k": 6}


def _request(tiny_bert, tiny_data, out, **kw):
    from steu_core.request import UnlearnRequest

    return UnlearnRequest(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
                          forget_class=tiny_data["forget_class"], out=out, settings=dict(FAST), device="cpu",
                          max_length=48, min_forget=5, **kw)


def test_notes_never_trained_on_are_refused_and_nothing_is_written(tiny_bert, tiny_data, tmp_path):
    from conftest import make_notes, write_csv
    from steu_core.errors import DataError
    from steu_core.runs import run_unlearning, staging_dir

    never = write_csv(tmp_path / "never.csv", [r for r in make_notes(30, seed=77) if r[1] == "substance"])
    out = tmp_path / "run"
    with pytest.raises(DataError, match="never used to train this model; nothing to forget"):
        run_unlearning(_request(tiny_bert, tiny_data, out, forget=str(never)))
    assert not out.exists()
    assert not (staging_dir(out).exists() and any(p.name != "progress.json" for p in staging_dir(out).iterdir()))


def test_a_note_listed_twice_is_one_member(tiny_bert, tiny_data, tmp_path):
    """Copies of a forget note would count its score twice and narrow the attacks' intervals."""
    import csv
    import json

    from conftest import write_csv
    from steu_core.runs import run_unlearning

    with open(tiny_data["train"], newline="") as f:
        notes = [(row["text"], row["label"]) for row in csv.DictReader(f) if row["label"] == tiny_data["forget_class"]]
    twice = write_csv(tmp_path / "twice.csv", notes + notes)
    out = run_unlearning(_request(tiny_bert, tiny_data, tmp_path / "run", forget=str(twice), record_ledger=False))
    r = json.loads((out / "results.json").read_text())
    assert r["members"]["total"] == 2 * len(notes) and r["members"]["found"] == len(notes)
    assert r["mia"]["n_members"] == len(notes)
    assert any("counts once in membership inference" in w for w in r["warnings"])


def test_seeds_give_spreads_and_the_verdicts_use_them(tiny_bert, tiny_data, tmp_path):
    import json

    from steu_core.runs import run_unlearning

    out = run_unlearning(_request(tiny_bert, tiny_data, tmp_path / "run", seeds=2))
    r = json.loads((out / "results.json").read_text())
    seeds = r["seeds"]
    assert seeds["n"] == 2 and seeds["seeds"] == [0, 1] and seeds["kept_model_seed"] == 0
    assert [s["seed"] for s in seeds["per_seed"]] == [0, 1]
    assert seeds["per_seed"][0]["forget_f1_after"] == r["forget_f1_after"]  # the kept model is the first seed's
    for key in ("forget_f1_after", "retain_f1_after", "loss_auc_after"):
        spread = seeds["spread"][key]
        assert spread["min"] <= spread["mean"] <= spread["max"]
    assert r["wall_seconds"]["seeds"] > 0
    assert r["verdicts"]["forgotten"]["evidence"]["seeds"] == 2
    assert r["verdicts"]["forgotten"]["evidence"]["forget_f1_after"] == max(s["forget_f1_after"]
                                                                           for s in seeds["per_seed"])
    assert r["members"] == {"found": r["data"]["forget"]["rows"], "total": r["data"]["forget"]["rows"],
                            "rule": r["members"]["rule"]}
    from steu_core.ledger import Ledger

    entry = [e for e in Ledger().entries() if e["kind"] == "run"][-1]["payload"]
    assert entry["outcome"] == "success" and entry["verdict"] == verdicts.headline(r["verdicts"])
    assert entry["verdicts"][OUTPUTS] == r["verdicts"]["threat_models"][OUTPUTS]["verdict"]


# -- relearning (comparison rows) ----------------------------------------------------------------
def _relearn_row(steps, ci, max_steps=20, attack="full-model, n = 8"):
    def words(v):
        return f"never within {max_steps}" if v > max_steps else f"{v:g}"
    return {"relearn_strongest_steps": steps, "relearn_strongest_steps_ci": ci, "relearn_strongest_attack": attack,
            "relearn_strongest_text": words(steps), "relearn_strongest_ci_text": f"[{words(ci[0])}, {words(ci[1])}]"}


@pytest.mark.parametrize("row, oracle, expected, words", [
    (_relearn_row(4, [2, 6]), _relearn_row(21, [21, 21]), "no", "hidden, not removed"),
    (_relearn_row(21, [21, 21]), _relearn_row(21, [21, 21]), "yes", "never within 20 steps"),
    (_relearn_row(18, [16, 21]), _relearn_row(16, [12, 21]), "yes", "as hard to teach back"),
    (_relearn_row(14, [12, 16]), _relearn_row(18, [14, 21]), "inconclusive", "intervals overlap"),
    (_relearn_row(14, [12, 16]), None, "inconclusive", "no retrained reference"),
    # only the strongest attackers known, and they differ: nothing to compare
    (_relearn_row(18, [16, 101], max_steps=100, attack="head-only, n = 8"), _relearn_row(21, [21, 21]),
     "inconclusive", "attacked only otherwise (full-model, n = 8)"),
    ({}, _relearn_row(21, [21, 21]), "inconclusive", "no relearning attack"),
])
def test_relearning_verdict_from_the_strongest_attacker_columns_alone(row, oracle, expected, words):
    v = verdicts.relearning(row, oracle)
    assert v["verdict"] == expected and words in v["reason"], v


def _by_attack(head, full):
    """A comparison row with both attackers' results: head-only (bound 100) and full-model (bound 20)."""
    def result(attack, steps, ci, bound):
        def words(v):
            return f"never within {bound}" if v > bound else f"{v:g}"
        return {"attack": attack, "steps": steps, "steps_ci": ci, "text": words(steps),
                "ci_text": f"[{words(ci[0])}, {words(ci[1])}]"}
    return {"relearn_by_attack": [result("head-only, n = 8", *head, 100), result("full-model, n = 8", *full, 20)]}


NEVER_HEAD, NEVER_FULL = (101, [101, 101]), (21, [21, 21])


@pytest.mark.parametrize("row, oracle, expected, words", [
    # the head-only attacker brings the class back in 30 steps where the oracle held past 100; the full-model
    # attacker's bound (20) hides that from a strongest-against-strongest rule, which would say "yes"
    (_by_attack((30, [25, 35]), NEVER_FULL), _by_attack(NEVER_HEAD, NEVER_FULL), "no",
     "30 steps [25, 35] (head-only, n = 8); the retrained reference, which never saw it, needed never within 100"),
    (_by_attack(NEVER_HEAD, NEVER_FULL), _by_attack(NEVER_HEAD, NEVER_FULL), "yes", "attacker by attacker"),
    (_by_attack(NEVER_HEAD, (14, [12, 16])), _by_attack(NEVER_HEAD, (18, [14, 21])), "inconclusive",
     "14 steps [12, 16] (full-model, n = 8), the retrained reference after 18 steps"),
    (_by_attack(NEVER_HEAD, (4, [2, 6])), _relearn_row(21, [21, 21]), "no", "4 steps [2, 6] (full-model, n = 8)"),
    (_by_attack(NEVER_HEAD, (4, [2, 6])), {}, "inconclusive", "no retrained reference was attacked"),
    # Medical Abstracts, seed 0: the head-only attacker succeeded in the median, within the interval's reach
    (_by_attack((18, [16, 101]), NEVER_FULL), _by_attack(NEVER_HEAD, NEVER_FULL), "inconclusive",
     "18 steps [16, never within 100] (head-only, n = 8), the retrained reference after never within 100 steps"),
])
def test_relearning_verdict_compares_each_attacker_with_the_same_attacker_on_the_oracle(row, oracle, expected, words):
    v = verdicts.relearning(row, oracle)
    assert v["verdict"] == expected and words in v["reason"], v


def test_a_bar_the_original_model_cannot_clear_proves_nothing_when_a_method_does_not_clear_it_either():
    knows = _by_attack((0, [0, 0]), (0, [0, 0]))            # the original clears both bars at once
    full_too_high = _by_attack((0, [0, 0]), (6, [2, 21]))   # Medical Abstracts, seed 2: not in every draw
    never = _by_attack(NEVER_HEAD, NEVER_FULL)
    assert verdicts.relearning(never, never, knows)["verdict"] == YES
    v = verdicts.relearning(never, never, full_too_high)
    assert v["verdict"] == YES and "full-model, n = 8: the model before unlearning did not clear" in v["reason"]
    only_full = {"relearn_by_attack": never["relearn_by_attack"][1:]}
    v = verdicts.relearning(only_full, only_full, full_too_high)
    assert v["verdict"] == INCONCLUSIVE and "these attacks cannot tell" in v["reason"]
    # coming back where the oracle's never did is evidence whatever the bar
    fast = _by_attack(NEVER_HEAD, (4, [2, 6]))
    assert verdicts.relearning(fast, never, full_too_high)["verdict"] == NO


def test_comparison_rows_carry_the_relearning_verdict_and_the_text_lists_it():
    from steu_core.compare import relearn_verdict_lines
    from steu_core.compare.table import comparison_rows

    def summary(steps, ci):
        r = _relearn_row(steps, ci)
        return {"median_steps": steps, "median_steps_ci": ci, "text": r["relearn_strongest_text"],
                "ci_text": r["relearn_strongest_ci_text"]}

    result = {"forget_f1_before": 0.8, "forget_f1_after": 0.0, "retain_f1_before": 0.9, "retain_f1_after": 0.9}
    audits = {"relearn_full": {"n_values": [8], "per_model": {"steu": {"n8": summary(4, [2, 6])},
                                                              "retrain_oracle": {"n8": summary(21, [21, 21])}}}}
    rows = comparison_rows(["steu", "retrain_oracle"], {"steu": result, "retrain_oracle": result}, audits, [])
    by = {r["method"]: r for r in rows}
    assert by["steu"]["relearn_verdict"]["verdict"] == NO
    assert "relearn_verdict" not in by["original"] and "relearn_verdict" not in by["retrain_oracle"]
    lines = relearn_verdict_lines({"rows": rows})
    assert len(lines) == 1 and lines[0].startswith("steu: No - hidden, not removed")
    assert relearn_verdict_lines({"rows": [{k: v for k, v in r.items() if not k.startswith("relearn")}
                                           for r in rows]}) == []
