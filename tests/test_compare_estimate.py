"""A comparison's time said before the start (steu_core/compare/estimate.py) from step costs measured on the
model, the CPU-sized relearning set and its switch, and progress inside the deep audits (draw i of N, step j)."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from steu_core.audits.deep import DEEP_AUDITS
from steu_core.audits.relearn_full import QUICK, FullRelearnSettings
from steu_core.compare.estimate import (AuditSizes, StepCosts, both_sets, estimate_lines, estimate_request,
                                        measure_step_costs, relearn_full_seconds)
from steu_core.compare.progress import overall_fraction, phase_text
from steu_core.model import load_classifier
from steu_core.request import CompareRequest
from test_methods_compare import SETTINGS, _real_inputs, _run

SIZES = AuditSizes(forget=240, eval=480, eval_forget_class=80, retain_sample=256, models=3, has_oracle=False,
                   depths=7, hidden=384)
COSTS = StepCosts(forward_per_note_s=0.05, train_step_s=2.0, fit_per_cell_s=1e-8, max_length=128, batch_notes=16,
                  threads=2)


def test_the_full_attacker_is_priced_at_its_bound_from_the_measured_costs():
    quick = relearn_full_seconds(QUICK, SIZES, COSTS)
    cfg = FullRelearnSettings.from_dict(QUICK)
    checks = cfg.max_steps // cfg.check_every + 1
    per_draw = cfg.max_steps * 2.0 + checks * cfg.eval_max * 0.05
    assert quick == pytest.approx(cfg.draws * (2 * per_draw + cfg.eval_max * 0.05))
    assert relearn_full_seconds({}, SIZES, COSTS) > 2.5 * quick, "the full set costs several times the quick one"
    slower = replace(COSTS, forward_per_note_s=0.1, train_step_s=4.0)
    assert relearn_full_seconds(QUICK, SIZES, slower) == pytest.approx(2 * quick), "the costs, not constants"


def test_both_sets_are_estimated_and_said_before_the_start():
    found = both_sets(sorted(DEEP_AUDITS), {}, ["steu", "head_only"], SIZES, COSTS)
    assert found["full"]["total_s"] > found["quick"]["total_s"] > found["quick"]["per_audit"]["relearn_full"] > 0
    assert found["quick"]["per_audit"]["utility_ci"] == 0  # seconds: left out and said so in the module
    # a head-only edit passes no note through the encoder again: fewer passes than a sparse edit
    head = both_sets(["layer_probe"], {}, ["head_only"], replace(SIZES, models=2), COSTS)
    rows = both_sets(["layer_probe"], {}, ["steu"], replace(SIZES, models=2), COSTS)
    assert head["quick"]["per_audit"]["layer_probe"] < rows["quick"]["per_audit"]["layer_probe"]
    # settings given by name override the quick set
    given = both_sets(["relearn_full"], {"relearn_full": {"max_steps": 40}}, ["steu"], SIZES, COSTS)
    assert given["quick"]["per_audit"]["relearn_full"] == pytest.approx(
        relearn_full_seconds({**QUICK, "max_steps": 40}, SIZES, COSTS), abs=0.1)
    first, measured = estimate_lines(found, full=False)
    assert "CPU-sized" in first and "--full-relearning" in first and "at most" in first
    assert "50 ms per note" in measured and "2.00 s" in measured


def test_step_costs_are_measured_on_the_model_without_changing_it(tiny_bert, tiny_data, tmp_path):
    clf = load_classifier(tiny_bert, device="cpu")
    before = {k: v.clone() for k, v in clf.model.state_dict().items()}
    costs = measure_step_costs(clf, 48)
    assert costs.forward_per_note_s > 0 and costs.train_step_s > 0 and costs.fit_per_cell_s > 0
    assert costs.batch_notes == 2 * FullRelearnSettings().n and costs.max_length == 48
    assert all(torch.equal(before[k], v) for k, v in clf.model.state_dict().items())
    req = CompareRequest(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
                         forget=tiny_data["forget"], forget_class="substance", out=tmp_path / "c",
                         methods=["steu", "head_only"], device="cpu", max_length=48)
    found = estimate_request(req, clf, costs)
    assert found["costs"] == costs.as_dict() and found["quick"]["total_s"] > 0


def test_a_deep_audit_says_where_it_is(tiny_bert, tiny_data, tmp_path):
    _run(tiny_bert, tiny_data, tmp_path / "ho", "head_only", SETTINGS["head_only"])
    inp = _real_inputs(tiny_bert, tiny_data, tmp_path / "ho" / "model", "head_only")
    heard = []
    inp.progress = heard.append
    inp.settings = {"relearn_full": {"n": 4, "draws": 5, "max_steps": 3, "lr": 1e-12, "check_every": 1,
                                     "eval_max": 10}}
    DEEP_AUDITS["relearn_full"](inp)
    words = [h["activity"] for h in heard if h.get("activity")]
    assert "head_only: draw 5 of 5, step 3 of 3" in words and "original: draw 1 of 5, step 0 of 3" in words
    steps = [h["step"] for h in heard if h.get("model") == "head_only"]
    assert steps == sorted(steps) and max(steps) < heard[-1]["total"] == 2 * 5 * 3
    detail = {"audit_index": 7, "audit_count": 8}
    assert phase_text("audit:relearn_full", detail, 4, 30, words[-1]) == \
        f"Deep audit 7 of 8: relearn full · {words[-1]}"
    fractions = [overall_fraction("audit:relearn_full", detail, s, 30) for s in (0, 10, 30)]
    assert fractions == sorted(fractions) and fractions[0] < fractions[-1]
