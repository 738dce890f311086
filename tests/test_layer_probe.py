"""The layer-wise probe: one AUC per depth with its interval, the same curve for models whose encoder and
rows are the original's, and the chart."""
from __future__ import annotations

import numpy as np

from steu_core.audits.deep import DEEP_AUDITS
from steu_core.charts import layer_probe_caption, layer_probe_curves
from steu_core.compare.files import comparison_figures
from test_methods_compare import SETTINGS, _real_inputs, _run


def test_layer_probe_reads_the_class_at_every_depth(tiny_bert, tiny_data, tmp_path):
    _run(tiny_bert, tiny_data, tmp_path / "ho", "head_only", SETTINGS["head_only"])
    inp = _real_inputs(tiny_bert, tiny_data, tmp_path / "ho" / "model", "head_only")
    inp.settings = {"layer_probe": {"folds": 3}}
    out = DEEP_AUDITS["layer_probe"](inp)["layer_probe"]
    n_layers = inp.models["original"].clf.model.config.num_hidden_layers
    orig = out["per_model"]["original"]["depths"]
    assert [d["depth"] for d in orig] == ["embeddings", *(f"layer {i}" for i in range(1, n_layers + 1)), "head input"]
    for d in orig:
        lo, hi = d["auc_ci"]
        assert lo <= d["auc"] <= hi
    assert orig[-1]["auc"] > 0.8, "the original's head input separates the class it was trained on"
    # head_only changes only the head: every depth up to the head input is the original's, bit for bit
    ho = out["per_model"]["head_only"]["depths"]
    assert [d["auc"] for d in ho] == [d["auc"] for d in orig]
    # a stratified cap on the notes probed
    inp.settings = {"layer_probe": {"folds": 3, "eval_max": 20}}
    small = DEEP_AUDITS["layer_probe"](inp)["layer_probe"]
    assert small["n_notes"] <= 21 and small["n_positive"] >= 2


def test_layer_probe_chart_draws_one_curve_per_model_with_the_oracle_dashed():
    depths = [{"depth": d, "auc": a, "auc_ci": [a - 0.05, min(1.0, a + 0.05)]}
              for d, a in (("embeddings", 0.7), ("layer 1", 0.8), ("head input", 0.9))]
    comparison = {"rows": [], "audits": {"layer_probe": {"per_model": {
        "original": {"depths": depths}, "steu": {"depths": depths}, "retrain_oracle": {"depths": depths[:2]}}}}}
    fig = layer_probe_curves(comparison)
    assert [t.name for t in fig.data] == ["original", "steu", "retrain_oracle"]
    assert fig.data[2].line.dash == "dash" and list(fig.data[0].x) == ["embeddings", "layer 1", "head input"]
    assert np.allclose(fig.data[0].error_y.array, [0.05, 0.05, 0.05])
    assert "layer_probe" in comparison_figures(comparison) and "layer_probe" not in comparison_figures({"rows": []})


def test_a_sparse_edit_passes_again_only_the_notes_with_a_changed_row(tiny_bert, tiny_data, tmp_path, monkeypatch):
    from steu_core.audits import deep_base

    _run(tiny_bert, tiny_data, tmp_path / "steu", "steu", SETTINGS["steu"])
    inp = _real_inputs(tiny_bert, tiny_data, tmp_path / "steu" / "model", "steu")
    steu = inp.models["steu"]
    assert steu.changed_rows, "STEU changed some embedding rows and nothing of the encoder"
    idx = np.arange(len(inp.eval))
    fresh = deep_base.layer_features(steu.clf, inp.eval, idx)
    deep_base.model_layer_features(inp, "original", "eval", idx)
    passed = []
    real = deep_base.layer_features
    monkeypatch.setattr(deep_base, "layer_features", lambda clf, enc, i, **kw: passed.append(len(i)) or real(clf, enc, i))
    reused = deep_base.model_layer_features(inp, "steu", "eval", idx)
    covered = sum(bool(np.isin(inp.eval.ids[int(i)], steu.changed_rows).any()) for i in idx)
    assert passed == ([covered] if covered else []) and covered < len(idx)
    for a, b in zip(reused, fresh):
        assert np.allclose(a, b, atol=1e-5), "the reused states are the states a fresh pass gives"
    assert deep_base.model_layer_features(inp, "steu", "eval", idx) is reused and len(passed) <= 1


def _probe_comparison(**curves) -> dict:
    return {"rows": [], "audits": {"layer_probe": {"per_model": {
        name: {"depths": [{"depth": f"layer {i}", "auc": a} for i, a in enumerate(aucs)]}
        for name, aucs in curves.items()}}}}


def test_layer_probe_caption_names_the_dashed_line_for_what_it_is():
    """head_only without an oracle: no line is called the oracle, and a curve near 1 at every depth is
    said in plain words to leave the class readable inside the model."""
    text = layer_probe_caption(_probe_comparison(original=[0.98, 0.99], steu=[0.97, 0.98], head_only=[0.96, 0.99]))
    assert "No retrain oracle was in this comparison" in text and "dashed line is the retrain oracle" not in text
    assert "head_only dotted pink" in text and "steu solid teal" in text and "original solid grey" in text
    assert "For steu (lowest 0.97) and head_only (lowest 0.96), the probe AUC is at least 0.9 at every depth" in text
    assert "still readable inside the model" in text
    with_oracle = layer_probe_caption(_probe_comparison(original=[0.9, 0.99], retrain_oracle=[0.6, 0.7], steu=[0.5, 0.8]))
    assert "The dashed line is the retrain oracle (retrain_oracle)" in with_oracle and "retrain_oracle dashed black" in with_oracle
    assert "still readable inside the model" not in with_oracle  # no model keeps the class above 0.9 everywhere
