"""The relearning audits: the full-model attacker's settings, censoring, the median's interval, and the
strongest attacker in the comparison table."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from steu_core.audits.deep import DEEP_AUDITS, check_audit_settings
from steu_core.audits.deep_base import censored_median, steps_summary
from steu_core.audits.relearn_full import FullRelearnSettings
from steu_core.compare.table import comparison_rows
from steu_core.compare.text import table_rows
from steu_core.errors import ConfigError
from steu_core.request import CompareRequest
from steu_core.stats import median_interval
from test_methods_compare import SETTINGS, _real_inputs, _run


def test_full_attacker_defaults_come_from_the_sensitivity_study():
    cfg = FullRelearnSettings()
    assert (cfg.lr, cfg.n, cfg.max_steps) == (5e-5, 8, 20) and cfg.draws >= 5


@pytest.mark.parametrize("bad", [{"lr": 0}, {"lr": -1e-5}, {"lr": float("nan")}, {"lr": "fast"}, {"n": 0},
                                 {"max_steps": 0}, {"draws": 4}, {"draws": 2.5}, {"check_every": 0},
                                 {"threshold": 1.5}, {"steps": 10}])
def test_full_attacker_refuses_bad_settings_when_built(bad):
    with pytest.raises(ConfigError):
        FullRelearnSettings.from_dict(bad)
    with pytest.raises(ConfigError):
        check_audit_settings("relearn_full", bad)


def test_a_comparison_request_refuses_bad_relearn_settings_before_running(tiny_bert, tiny_data, tmp_path):
    def req(audit_settings):
        return CompareRequest(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
                              forget_class=tiny_data["forget_class"], out=tmp_path / "c", methods=["head_only"],
                              audit_settings=audit_settings, device="cpu")

    with pytest.raises(ConfigError, match="draws"):
        req({"relearn_full": {"draws": 3}}).validate()
    with pytest.raises(ConfigError, match="relearn_full"):
        req({"relearn": {"mode": "full"}}).validate()
    req({"relearn_full": {"draws": 5, "lr": 1e-4}}).validate()
    assert not (tmp_path / "c").exists()


def test_median_interval_is_the_order_statistic_interval():
    assert median_interval([3, 1, 2, 5, 4]) == ([1.0, 5.0], 0.9375)  # 5 values: min to max, 93.75 %
    ci, cover = median_interval(list(range(10)))
    assert ci == [1.0, 8.0] and cover >= 0.95  # 10 values: the 2nd and 9th
    rng = np.random.default_rng(0)
    for n in (5, 6, 7, 12, 30):
        x = rng.integers(0, 50, n)
        (lo, hi), _ = median_interval(x)
        assert lo <= np.median(x) <= hi


def test_a_draw_that_never_relearns_is_censored_not_max():
    s = steps_summary([None, None, None, 4, 6], max_steps=20)
    assert s["median_steps"] == 21 and s["median_censored"] and s["text"] == "never within 20"
    assert s["never"] == 3 and s["steps"] == [None, None, None, 4, 6]
    assert s["median_steps_ci"] == [4.0, 21.0] and s["ci_text"] == "[4, never within 20]"
    seen = steps_summary([3, 5, 7, 9, 11, 13], max_steps=20)
    assert seen["median_steps"] == 8 and not seen["median_censored"] and seen["text"] == "8"
    lo, hi = seen["median_steps_ci"]
    assert lo <= seen["median_steps"] <= hi
    # even count, upper middle censored: the lower middle, not an average with the stand-in
    assert censored_median(np.array([2, 4, 6, 21, 21, 21.0]), 20) == 6


def test_full_attack_relearns_the_original_and_leaves_models_untouched(tiny_bert, tiny_data, tmp_path):
    _run(tiny_bert, tiny_data, tmp_path / "ho", "head_only", SETTINGS["head_only"])
    inp = _real_inputs(tiny_bert, tiny_data, tmp_path / "ho" / "model", "head_only")
    before = {k: v.clone() for k, v in inp.models["head_only"].clf.model.state_dict().items()}
    inp.settings = {"relearn_full": {"n": 4, "draws": 5, "max_steps": 30, "lr": 2e-2, "check_every": 1}}
    out = DEEP_AUDITS["relearn_full"](inp)["relearn_full"]
    assert out["mode"] == "full" and out["draws"] == 5 and out["n_values"] == [4]
    assert out["per_model"]["original"]["n4"]["median_steps"] == 0, "the original already predicts the class"
    ho = out["per_model"]["head_only"]["n4"]
    assert len(ho["steps"]) == 5 and 0 < ho["median_steps"] <= 30
    lo, hi = ho["median_steps_ci"]
    assert lo <= ho["median_steps"] <= hi
    after = inp.models["head_only"].clf.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the attack must run on a copy"
    inp.settings = {"relearn_full": {"n": 4, "draws": 5, "max_steps": 2, "lr": 1e-12, "check_every": 1}}
    never = DEEP_AUDITS["relearn_full"](inp)["relearn_full"]["per_model"]["head_only"]["n4"]
    assert never["never"] == 5 and never["text"] == "never within 2" and never["median_steps"] == 3


def _audits(head_median, full_median):
    def summary(median, max_steps):
        return steps_summary([None if median is None else median] * 5, max_steps)

    return {"relearn": {"n_values": [8], "max_steps": 100,
                        "per_model": {"steu": {"n8": summary(head_median, 100)}}},
            "relearn_full": {"n_values": [8], "max_steps": 20,
                             "per_model": {"steu": {"n8": summary(full_median, 20)}}}}


def test_the_table_uses_the_strongest_attacker():
    result = {"forget_f1_after": 0.0, "retain_f1_after": 0.9, "forget_f1_before": 0.9, "retain_f1_before": 0.9,
              "wall_seconds": {"select": 1, "unlearn": 2}}
    row = comparison_rows(["steu"], {"steu": result}, _audits(None, 4), [8])[1]
    assert row["relearn_n8_text"] == "never within 100" and row["relearn_full_n8_steps"] == 4
    assert row["relearn_strongest_steps"] == 4 and row["relearn_strongest_attack"] == "full-model, n = 8"
    row = comparison_rows(["steu"], {"steu": result}, _audits(3, 4), [8])[1]
    assert row["relearn_strongest_steps"] == 3 and row["relearn_strongest_attack"].startswith("head-only")
    headers, cells = table_rows({"rows": [row], "audits": _audits(3, 4)})
    assert "relearn full n=8" in headers and "strongest relearning attacker" in headers
    assert cells[0][headers.index("strongest relearning attacker")].startswith("3 [3, 3] (head-only")
