"""Comparison methods, deep audits and the compare command, on tiny models (seconds each)."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from steu_core.audits.deep import (DEEP_AUDITS, ORACLE, DeepInputs, ModelOutputs, auc, bootstrap_two_groups,
                                   intervals_overlap, model_outputs, run_deep_audits, tpr_at_fpr)
from steu_core.audits.forget_quality import ks_statistic
from steu_core.audits.param_diff import diff_states, load_state
from steu_core.audits.utility import utility_metrics
from steu_core.audits.utility_ci import f1_pair
from steu_core.cli import main
from steu_core.compare import verdict_lines
from steu_core.errors import ConfigError
from steu_core.methods import METHODS, get_method
from steu_core.methods.base import AllowedChanges, UnlearnContext
from steu_core.model import encode, hash_directory, load_classifier
from steu_core.runs import UnlearnRequest, run_unlearning, staging_dir
from steu_core.verdicts import headline

ROWS = {"max_steps": 40, "lr_rows": 0.05, "min_df": 2, "k": 6}
SETTINGS = {
    "steu": {**ROWS, "lr_head": 0.02},
    "steu_rows_only": dict(ROWS),
    "random_tokens": {**ROWS, "lr_head": 0.02},
    "head_only": {"max_steps": 40, "lr_head": 0.02},
    "grad_ascent": {"lr": 1e-3, "max_steps": 15},
    "finetune_retain": {"lr": 1e-2, "max_steps": 30},
}
ORACLE_SETTINGS = {"epochs": 4, "batch_size": 8, "lr": 3e-3}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, tiny_data):
    """The pretrained start of ``tiny_bert``: conftest builds it with exactly these arguments (seeded)."""
    from conftest import make_notes
    from tiny_models import make_tiny_classifier

    return make_tiny_classifier("bert", tmp_path_factory.mktemp("tiny_bert_start") / "m", tiny_data["labels"],
                                texts=[r[0] for r in make_notes(5, 9)])


def _run(model, tiny_data, out, method, settings):
    req = UnlearnRequest(model=str(model), train=tiny_data["train"], eval=tiny_data["eval"],
                         forget_class=tiny_data["forget_class"], out=out, method=method, settings=settings,
                         device="cpu", max_length=48, min_forget=5, record_ledger=False)
    return json.loads((run_unlearning(req) / "results.json").read_text())


def _head_keys(state):
    return {k for k in state if k.startswith("classifier.")}


# ---------------------------------------------------------------------------------------------
# Methods


def test_every_method_is_registered():
    assert {"steu", "steu_rows_only", "random_tokens", "head_only", "grad_ascent", "finetune_retain",
            "retrain_oracle"} <= set(METHODS)


@pytest.mark.parametrize("method", list(SETTINGS))
def test_method_forgets_and_changes_only_what_it_may(method, tiny_bert, tiny_data, tmp_path):
    before_hash = hash_directory(tiny_bert)
    r = _run(tiny_bert, tiny_data, tmp_path / "run", method, SETTINGS[method])
    assert r["method"] == method
    assert r["forget_f1_before"] > 0.5
    assert r["forget_f1_after"] < r["forget_f1_before"] - 0.3, "the method must lower forget F1"
    assert r["param_diff_verdict"] == "pass", r["param_diff_message"]
    assert hash_directory(tiny_bert) == before_hash, "the original model directory must not change"
    a, b = load_state(tiny_bert), load_state(tmp_path / "run" / "model")
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    emb = "bert.embeddings.word_embeddings.weight"
    rows = set(torch.nonzero((a[emb] != b[emb]).any(dim=1)).flatten().tolist())
    selected = {t["id"] for t in r["selected_tokens"]}
    if method == "head_only":
        assert changed and changed <= _head_keys(a) and not rows and r["k"] == 0
    elif method == "steu_rows_only":
        assert changed == {emb} and rows and rows <= selected and len(selected) == 6
    elif method in ("steu", "random_tokens"):
        assert emb in changed and changed - {emb} <= _head_keys(a) and changed & _head_keys(a)
        assert rows and rows <= selected and len(selected) == 6
    else:  # full-model baselines
        assert r["encoder_unchanged"] is False and len(changed) > len(_head_keys(a)) + 1
    # the verdict is not vacuous: claiming a smaller allowed set for the same files fails
    if method != "steu_rows_only":
        stricter = AllowedChanges(embedding_rows=None, head=False)
    else:
        stricter = AllowedChanges(embedding_rows=sorted(rows)[1:], head=False)
    clf = load_classifier(tiny_bert, device="cpu")
    d = diff_states(a, b, embedding_name=clf.embedding_param_name, head_names=clf.head_param_names,
                    allowed=stricter)
    assert d["param_diff_verdict"] == "fail"


def test_rows_only_refuses_training_the_head():
    with pytest.raises(ConfigError, match="head frozen"):
        get_method("steu_rows_only")({"train_head": True})


def _context(clf, tiny_data, seed=0):
    from steu_core.data import load_notes

    train = load_notes(tiny_data["train"])
    fc = clf.label_id(tiny_data["forget_class"])
    forget = train.where_label(clf.labels[fc])
    retain = train.where_label(clf.labels[fc], equal=False)
    return UnlearnContext(original=clf, forget=encode(clf.tokenizer, forget.texts, 48),
                          retain=encode(clf.tokenizer, retain.texts, 48),
                          retain_labels=torch.as_tensor([clf.labels.index(y) for y in retain.labels]),
                          forget_class_id=fc, seed=seed, retain_notes=retain, max_length=48)


def test_random_tokens_are_seeded_and_drawn_from_forget_tokens(tiny_bert, tiny_data):
    from steu_core.pmi import document_frequency

    clf = load_classifier(tiny_bert, device="cpu")
    ctx = _context(clf, tiny_data)
    method = get_method("random_tokens")({"k": 6, "min_df": 2})
    a, b = method.select(ctx), method.select(ctx)
    assert [t.id for t in a] == [t.id for t in b], "the same seed must draw the same rows"
    other = get_method("random_tokens")({"k": 6, "min_df": 2, "selection_seed": 7}).select(ctx)
    assert {t.id for t in other} != {t.id for t in a}
    df_f, _ = document_frequency(ctx.forget.ids, clf.embedding.weight.shape[0])
    assert all(df_f[t.id] >= 2 and t.df_forget >= 2 for t in a)
    assert not set(clf.tokenizer.all_special_ids) & {t.id for t in a}
    pmi_top = {t.id for t in get_method("steu")({"k": 6, "min_df": 2}).select(ctx)}
    assert {t.id for t in a} != pmi_top
    vocab = get_method("random_tokens")({"k": 6, "pool": "vocab"}).select(ctx)
    assert len(vocab) == 6
    with pytest.raises(ConfigError, match="pool"):
        get_method("random_tokens")({"pool": "everything"})


def test_oracle_retrains_from_the_base_on_retain_only(tiny_bert, tiny_base, tiny_data, tmp_path):
    r = _run(tiny_bert, tiny_data, tmp_path / "oracle", "retrain_oracle", {**ORACLE_SETTINGS, "base": str(tiny_base)})
    assert r["forget_f1_after"] < 0.2
    assert r["param_diff_verdict"] == "pass" and r["encoder_unchanged"] is False
    assert r["params_changed_fraction"] > 0.9
    assert r["training"]["retain_notes"] == r["data"]["retain_rows"]
    assert r["method_settings"]["base_path"] == str(tiny_base)


def test_a_later_run_reads_its_verdicts_against_an_earlier_retrain_on_the_same_data(tiny_bert, tiny_base, tiny_data):
    from pathlib import Path

    from steu_core.paths import runs_dir

    oracle = _run(tiny_bert, tiny_data, runs_dir() / "oracle-run", "retrain_oracle",
                  {**ORACLE_SETTINGS, "base": str(tiny_base)})
    assert oracle["reference"] is None  # a retrain is the reference, not read against one
    r = _run(tiny_bert, tiny_data, runs_dir() / "steu-run", "steu", SETTINGS["steu"])
    ref = r["reference"]
    assert ref["run_id"] == oracle["run_id"] and ref["path"] == str(runs_dir() / "oracle-run")
    assert ref["train_sha256"] == r["data"]["train"]["sha256"] and ref["eval_sha256"] == r["data"]["eval"]["sha256"]
    assert ref["forgotten_notes_after"] == oracle["collateral"]["forgotten_notes"]["after"]
    assert set(ref["attacks_after"]) >= {"loss", "confidence", "learned (outputs)"}
    assert r["verdicts"]["utility_kept"]["evidence"]["oracle_reference"] is True
    assert r["verdicts"]["threat_models"]["outputs"]["evidence"]["reference"] is True
    # another evaluation file is other data: the retrain is no reference for it
    other_eval = runs_dir().parent / "eval-other.csv"
    rows = Path(tiny_data["eval"]).read_text().splitlines()
    other_eval.write_text("\n".join(rows[:-1]) + "\n")
    req = UnlearnRequest(model=str(tiny_bert), train=tiny_data["train"], eval=other_eval,
                         forget_class=tiny_data["forget_class"], out=runs_dir() / "steu-other", method="steu",
                         settings=SETTINGS["steu"], device="cpu", max_length=48, min_forget=5, record_ledger=False)
    assert json.loads((run_unlearning(req) / "results.json").read_text())["reference"] is None


def test_oracle_refuses_a_base_of_another_architecture(tiny_bert, tiny_data, tmp_path):
    from tiny_models import make_tiny_classifier

    other = make_tiny_classifier("distilbert", tmp_path / "other", tiny_data["labels"])
    clf = load_classifier(tiny_bert, device="cpu")
    with pytest.raises(ConfigError, match="another architecture"):
        get_method("retrain_oracle")({"base": str(other), "epochs": 1}).run(_context(clf, tiny_data))
    no_text = _context(clf, tiny_data)
    no_text.retain_notes = None
    with pytest.raises(ConfigError, match="retain notes"):
        get_method("retrain_oracle")({"base": str(other)}).run(no_text)
    from steu_core.errors import ModelError

    with pytest.raises(ModelError):
        get_method("retrain_oracle")({"base": str(tmp_path / "missing")})


# ---------------------------------------------------------------------------------------------
# Audit helpers and audits


def test_auc_and_tpr_helpers_match_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 80), rng.normal(0, 1, 120)
    pos[:5] = neg[:5]  # ties
    assert auc(pos, neg) == pytest.approx(roc_auc_score(np.r_[np.ones(80), np.zeros(120)], np.r_[pos, neg]))
    # at 1 % FPR of 120 non-members one false positive is allowed
    thr = np.sort(neg)[-2]
    assert tpr_at_fpr(pos, neg, 0.01) == pytest.approx((pos > thr).mean())
    assert (neg > thr).sum() <= 1
    ci = bootstrap_two_groups(lambda a, b: auc(pos[a], neg[b]), 80, 120, seed=0, n_boot=200)
    assert ci[0] < auc(pos, neg) < ci[1]
    assert intervals_overlap([0.1, 0.3], [0.25, 0.5]) is True
    assert intervals_overlap([0.1, 0.2], [0.25, 0.5]) is False
    assert intervals_overlap(None, [0.1, 0.2]) is None


def test_fast_f1_matches_utility_metrics():
    rng = np.random.default_rng(1)
    for _ in range(100):
        c = int(rng.integers(2, 6))
        y, p = rng.integers(0, c, 40), rng.integers(0, c, 40)
        fc = int(rng.integers(0, c))
        m = utility_metrics(y, p, [str(i) for i in range(c)], fc)
        assert f1_pair(y, p, c, fc) == pytest.approx((m["forget_f1"], m["retain_f1"]))


def test_ks_statistic_matches_scipy():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 50), rng.normal(0.5, 1, 60)
    assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b).statistic)


class _FakeClf:
    """Stands in for a Classifier where an audit only reads outputs (KS, RMIA, probe)."""

    adapter = None


def _synthetic_inputs(n_f=60, n_e=90, n_r=60, d=8, seed=0) -> DeepInputs:
    """Three classes; class 2 is the forget class. Features separate the classes."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (3, d))
    eval_labels = np.arange(n_e) % 3
    retain_labels = np.arange(n_r) % 2

    def feats(labels):
        return torch.as_tensor(centres[labels] + rng.normal(0, 1, (len(labels), d)), dtype=torch.float32)

    f_feats, e_feats, r_feats = feats(np.full(n_f, 2)), feats(eval_labels), feats(retain_labels)

    def logits(n, p2):
        out = torch.zeros((n, 3))
        out[:, 2] = torch.as_tensor(np.log(p2) - np.log((1 - p2) / 2), dtype=torch.float32)
        return out

    def outputs(name, p_forget, p_eval):
        return ModelOutputs(name=name, clf=_FakeClf(), forget_logits=logits(n_f, p_forget),
                            eval_logits=logits(n_e, p_eval), retain_logits=torch.zeros((n_r, 3)),
                            forget_feats=f_feats, eval_feats=e_feats, retain_feats=r_feats)

    base_p = rng.uniform(0.05, 0.4, n_f + n_e)
    models = {
        "original": outputs("original", np.full(n_f, 0.95), np.where(eval_labels == 2, 0.6, 0.05)),
        # remembers the members: far higher p(forget) on forget notes than on held-out notes of the class
        "leaky": outputs("leaky", np.clip(base_p[:n_f] + 0.5, 0, 0.99), base_p[n_f:]),
        # treats members and held-out notes alike (same distribution)
        "clean": outputs("clean", base_p[:n_f], base_p[n_f:]),
        ORACLE: outputs(ORACLE, base_p[:n_f], base_p[n_f:]),
    }
    from steu_core.model import Encoded

    return DeepInputs(labels=["a", "b", "c"], forget_class_id=2, forget=Encoded([[1]] * n_f, 0, 8),
                      eval=Encoded([[1]] * n_e, 0, 8), eval_labels=eval_labels, retain=Encoded([[1]] * n_r, 0, 8),
                      retain_labels=retain_labels, models=models, seed=0, n_boot=200)


def test_forget_quality_separates_oracle_like_from_unlike():
    out = DEEP_AUDITS["forget_quality"](_synthetic_inputs())["forget_quality"]["per_model"]
    assert ORACLE not in out
    assert out["clean"]["ks_statistic"] == 0.0 and out["clean"]["ks_pvalue"] == pytest.approx(1.0)
    assert out["original"]["ks_statistic"] == 1.0 and out["original"]["ks_pvalue"] < 1e-6
    lo, hi = out["leaky"]["ks_statistic_ci"]
    assert lo <= out["leaky"]["ks_statistic"] <= hi
    inp = _synthetic_inputs()
    del inp.models[ORACLE]
    assert "skipped" in DEEP_AUDITS["forget_quality"](inp)["forget_quality"]


def test_reference_mia_finds_memorised_members_and_not_clean_ones():
    out = DEEP_AUDITS["reference_mia"](_synthetic_inputs())["reference_mia"]
    assert out["reference_features"].startswith(ORACLE)
    assert out["n_members"] == 60 and out["n_nonmembers"] == 30
    leaky, clean = out["per_model"]["leaky"], out["per_model"]["clean"]
    assert leaky["auc"] > 0.85 and leaky["auc_ci"][0] > 0.7
    assert clean["auc_ci"][0] < 0.5 < clean["auc_ci"][1]
    assert 0 <= leaky["tpr_at_1pct_fpr"] <= 1


def test_probe_reads_the_class_from_features_only_where_it_is():
    inp = _synthetic_inputs()
    out = DEEP_AUDITS["probe"](inp)["probe"]["per_model"]
    assert out["original"]["probe_auc"] > 0.95
    rng = np.random.default_rng(5)
    noise = torch.as_tensor(rng.normal(0, 1, tuple(inp.models["clean"].eval_feats.shape)), dtype=torch.float32)
    inp.models["clean"].eval_feats = noise
    out = DEEP_AUDITS["probe"](inp)["probe"]["per_model"]
    lo, hi = out["clean"]["probe_auc_ci"]
    assert lo < 0.5 < hi + 0.05
    assert out["original"]["output_auc"] == pytest.approx(1.0)


def _real_inputs(tiny_bert, tiny_data, new_dir, name="new") -> DeepInputs:
    from steu_core.data import load_notes

    clf = load_classifier(tiny_bert, device="cpu")
    train, evaluation = load_notes(tiny_data["train"]), load_notes(tiny_data["eval"])
    fc = clf.label_id(tiny_data["forget_class"])
    forget = train.where_label(clf.labels[fc])
    retain = train.where_label(clf.labels[fc], equal=False)
    enc_f, enc_e, enc_r = (encode(clf.tokenizer, n.texts, 48) for n in (forget, evaluation, retain))
    orig = model_outputs("original", clf, enc_f, enc_e, enc_r)
    new = model_outputs(name, load_classifier(new_dir, device="cpu"), enc_f, enc_e, enc_r, original=orig)
    return DeepInputs(labels=clf.labels, forget_class_id=fc, forget=enc_f, eval=enc_e,
                      eval_labels=np.array([clf.labels.index(y) for y in evaluation.labels]), retain=enc_r,
                      retain_labels=np.array([clf.labels.index(y) for y in retain.labels]),
                      models={"original": orig, name: new}, seed=0, n_boot=100)


def test_model_outputs_reuse_the_cache_exactly(tiny_bert, tiny_data, tmp_path):
    _run(tiny_bert, tiny_data, tmp_path / "steu", "steu", SETTINGS["steu"])
    inp = _real_inputs(tiny_bert, tiny_data, tmp_path / "steu" / "model", "steu")
    cached = inp.models["steu"]
    assert cached.exact_cache is True and 0 < cached.recomputed < len(inp.forget) + len(inp.eval) + len(inp.retain)
    full = model_outputs("x", cached.clf, inp.forget, inp.eval, inp.retain)
    assert full.exact_cache is False
    for key in ("forget_logits", "eval_logits", "retain_logits"):
        assert torch.allclose(getattr(cached, key), getattr(full, key), atol=1e-5)


def test_relearn_counts_steps_and_reports_never(tiny_bert, tiny_data, tmp_path):
    _run(tiny_bert, tiny_data, tmp_path / "ho", "head_only", SETTINGS["head_only"])
    inp = _real_inputs(tiny_bert, tiny_data, tmp_path / "ho" / "model", "head_only")
    head_before = [p.detach().clone() for n, p in inp.models["head_only"].clf.model.named_parameters()
                   if n.startswith("classifier")]
    inp.settings = {"relearn": {"n_values": [4], "repeats": 2, "max_steps": 40, "lr": 0.05}}
    out = DEEP_AUDITS["relearn"](inp)["relearn"]["per_model"]
    assert out["original"]["n4"]["median_steps"] == 0, "the original already predicts the class"
    ho = out["head_only"]["n4"]
    assert ho["never"] == 0 and 0 < ho["median_steps"] <= 40 and ho["text"] == f"{ho['median_steps']:g}"
    after = [p for n, p in inp.models["head_only"].clf.model.named_parameters() if n.startswith("classifier")]
    assert all(torch.equal(a, b) for a, b in zip(head_before, after)), "relearning must not leak into the model"
    inp.settings = {"relearn": {"n_values": [4], "repeats": 2, "max_steps": 3, "lr": 1e-9}}
    never = DEEP_AUDITS["relearn"](inp)["relearn"]["per_model"]["head_only"]["n4"]
    assert never["never"] == 2 and never["text"] == "never within 3" and never["median_steps"] == 4


def test_utility_ci_brackets_the_point_estimate(tiny_bert, tiny_data, tmp_path):
    _run(tiny_bert, tiny_data, tmp_path / "ho", "head_only", SETTINGS["head_only"])
    inp = _real_inputs(tiny_bert, tiny_data, tmp_path / "ho" / "model", "head_only")
    out = run_deep_audits(inp, ["utility_ci"])["utility_ci"]["per_model"]
    for row in out.values():
        for key in ("forget_f1", "retain_f1"):
            lo, hi = row[f"{key}_ci"]
            assert lo <= row[key] <= hi
    assert out["original"]["forget_f1"] > 0.5 and out["head_only"]["forget_f1"] < 0.2


# ---------------------------------------------------------------------------------------------
# The compare command


def test_compare_cli_end_to_end(tiny_bert, tiny_base, tiny_data, tmp_path, capsys):
    out = tmp_path / "cmp"
    settings = {"steu": SETTINGS["steu"], "head_only": SETTINGS["head_only"],
                "retrain_oracle": {**ORACLE_SETTINGS, "base": str(tiny_base)}}
    # the full-model attacker at its smallest (its wiring is checked here, its figures in test_relearn)
    audit_settings = {"relearn": {"n_values": [4, 8], "repeats": 2, "max_steps": 20, "lr": 0.05},
                      "reference_mia": {"n_reference": 4}, "relearn_full": {"draws": 5, "max_steps": 2, "eval_max": 10}}
    before = hash_directory(tiny_bert)
    rc = main(["compare", "--quiet", "--model", str(tiny_bert), "--train", str(tiny_data["train"]),
               "--eval", str(tiny_data["eval"]), "--forget-class", tiny_data["forget_class"], "--out", str(out),
               "--methods", "steu,head_only,retrain_oracle", "--settings", json.dumps(settings),
               "--audit-settings", json.dumps(audit_settings), "--device", "cpu", "--max-length", "48",
               "--min-forget", "5", "--bootstrap", "100", "--retain-sample", "30", "--record-ledger"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert hash_directory(tiny_bert) == before
    assert not staging_dir(out).exists()
    c = json.loads((out / "comparison.json").read_text())
    assert [r["method"] for r in c["rows"]] == ["original", "steu", "head_only", "retrain_oracle"]
    by = {r["method"]: r for r in c["rows"]}
    assert by["steu"]["forget_f1"] < by["original"]["forget_f1"]
    assert by["head_only"]["k"] == 0 and by["steu"]["k"] == 6
    assert by["retrain_oracle"]["time_ratio_to_oracle"] == pytest.approx(1.0)
    assert by["steu"]["time_ratio_to_oracle"] == pytest.approx(by["steu"]["wall_seconds"] /
                                                               by["retrain_oracle"]["wall_seconds"])
    assert by["retrain_oracle"]["coverage"] is None and by["steu"]["coverage"] > 0
    for key in ("forget_f1", "retain_f1", "loss_mia_auc", "ref_mia_auc", "probe_auc"):
        for r in c["rows"]:
            lo, hi = r[f"{key}_ci"]
            assert lo <= r[key] + 1e-9 and r[key] <= hi + 1e-9, (key, r["method"])
    assert by["retrain_oracle"]["ks_statistic"] is None and by["steu"]["ks_statistic"] is not None
    assert by["original"]["relearn_n4_steps"] == 0
    assert {"forget_f1", "ref_mia_auc", "relearn_n8_steps"} <= set(c["noise"])
    pairs = c["noise"]["forget_f1"]
    assert ["original", "steu"] in pairs["different"] or ["steu", "original"] in pairs["different"]
    assert c["audits"]["reference_mia"]["n_reference"] == 4
    full = c["audits"]["relearn_full"]
    assert (full["draws"], full["max_steps"], full["eval_notes"]) == (5, 2, 10)
    assert set(full["per_model"]) == {"original", "steu", "head_only", "retrain_oracle"}
    for m in ("steu", "head_only", "retrain_oracle"):
        assert (out / m / "results.json").is_file() and (out / m / "comparison.json").is_file()
    with open(out / "comparison.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == ["original", "steu", "head_only", "retrain_oracle"]
    assert {"forget_f1_ci_lo", "ref_mia_auc", "relearn_n8_text", "time_ratio_to_oracle"} <= set(rows[0])
    assert "Differences outside the noise" in text and "retrain_oracle" in text
    # every run's verdicts are read with what the comparison measured: the oracle, RMIA, the relearning verdict
    steu = json.loads((out / "steu" / "results.json").read_text())
    assert steu["reference"]["path"] == str(out.resolve() / "retrain_oracle")
    rmia = next(a for a in steu["mia"]["attacks"]["outputs"] if a["attack"] == "RMIA (reference models)")
    assert rmia["after"]["auc"] == c["audits"]["reference_mia"]["per_model"]["steu"]["auc"]
    assert {"RMIA (reference models)", "learned (mean-pooled layers)"} <= set(steu["reference"]["attacks_after"])
    hidden = next(a for a in steu["mia"]["attacks"]["model_file"] if a["attack"] == "learned (mean-pooled layers)")
    assert hidden["before"]["auc"] == c["audits"]["hidden_mia"]["per_model"]["original"]["auc"]
    assert by["steu"]["verdict"] == headline(steu["verdicts"])  # the table says what the run records
    assert by["steu"]["verdicts"]["model_file"] == steu["verdicts"]["threat_models"]["model_file"]["verdict"]
    assert any(line.startswith(f"steu: {headline(steu['verdicts'])} (against an attacker who sees")
               for line in verdict_lines(c))
    model_file = steu["verdicts"]["threat_models"]["model_file"]
    assert model_file["evidence"]["relearning"] == by["steu"]["relearn_verdict"]["verdict"]
    # the rewritten results.json and the comparison copied into each run are pinned by a newer run entry that
    # supersedes the run's own, so a report of the run is made from figures the ledger holds
    from steu_core.ledger import Ledger
    from steu_core.model import file_sha256
    from steu_core.report.evidence import check_pinned_evidence

    for m in ("steu", "head_only", "retrain_oracle"):
        r = json.loads((out / m / "results.json").read_text())
        own, newest = [e for e in Ledger().find("run") if e["payload"]["run_id"] == r["run_id"]]
        assert newest["payload"]["supersedes"] == own["entry_hash"] and newest["payload"]["rejudged_by"] == "cmp"
        assert newest["payload"]["hashes"]["results"] == file_sha256(out / m / "results.json")
        assert own["payload"]["hashes"]["results"] != newest["payload"]["hashes"]["results"]
        assert newest["payload"]["hashes"]["comparison"] == file_sha256(out / m / "comparison.json")
        check_pinned_evidence(out / m, r)
    # the PDF report of a run reads the comparison copied into it
    from steu_core.report import load_comparison

    assert [r["method"] for r in load_comparison(out / "steu")][:2] == ["original", "steu"]
    # the dashboard hook
    from steu_core.compare import comparison_figures

    fig = comparison_figures(out)["pareto"]
    assert {t.name for t in fig.data} >= {"methods", "original"}


@pytest.mark.parametrize("args, message", [
    (["--methods", "steu,nonsense"], "unknown method 'nonsense'"),
    (["--methods", "steu,steu"], "listed twice"),
    (["--methods", "steu", "--settings", '{"head_only": {}}'], "not being compared"),
    (["--methods", "grad_ascent", "--settings", '{"grad_ascent": {"max_steps": 0}}'], "max_steps"),
    (["--methods", "steu", "--audits", "probe,telepathy"], "unknown audit 'telepathy'"),
    (["--methods", "steu", "--settings", "{not json"], "not valid JSON"),
])
def test_compare_refuses_bad_requests_before_writing(args, message, tiny_bert, tiny_data, tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = main(["compare", "--model", str(tiny_bert), "--train", str(tiny_data["train"]), "--eval",
               str(tiny_data["eval"]), "--forget-class", tiny_data["forget_class"], "--out", str(out), *args])
    assert rc != 0
    assert message in capsys.readouterr().err
    assert not out.exists() and not staging_dir(out).exists()


def test_compare_refuses_an_existing_out(tiny_bert, tiny_data, tmp_path, capsys):
    out = tmp_path / "cmp"
    out.mkdir()
    rc = main(["compare", "--model", str(tiny_bert), "--train", str(tiny_data["train"]), "--eval",
               str(tiny_data["eval"]), "--forget-class", tiny_data["forget_class"], "--out", str(out),
               "--methods", "head_only"])
    assert rc != 0 and "already exists" in capsys.readouterr().err


def test_failed_method_leaves_nothing_that_looks_finished(tiny_bert, tiny_data, tmp_path):
    from steu_core.compare import CompareRequest, run_comparison
    from steu_core.errors import SteuError

    out = tmp_path / "cmp"
    req = CompareRequest(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
                         forget_class=tiny_data["forget_class"], out=out, methods=["head_only", "steu"],
                         settings={"head_only": SETTINGS["head_only"], "steu": {"k": 6, "min_df": 10_000}},
                         device="cpu", max_length=48, min_forget=5)
    with pytest.raises(SteuError, match="method 'steu' failed"):
        run_comparison(req)
    assert not out.exists()
    progress = json.loads((staging_dir(out) / "progress.json").read_text())
    assert progress["state"] == "failed" and "steu" in progress["message"]
    assert [p.name for p in staging_dir(out).iterdir()] == ["progress.json"]


def test_pareto_chart_marks_the_front():
    from fixtures_results import make_comparison

    from steu_core.charts import comparison_pareto

    def row(method, forget, retain, frac, secs, ci=0.02):
        return {"method": method, "forget_f1": forget, "retain_f1": retain, "params_changed_fraction": frac,
                "wall_seconds": secs, "forget_f1_ci": [max(forget - ci, 0), forget + ci],
                "retain_f1_ci": [retain - ci, retain + ci]}

    rows = [row("original", 0.65, 0.66, 0.0, 0.0), row("a", 0.0, 0.80, 0.002, 5), row("b", 0.05, 0.92, 1.0, 600),
            row("c", 0.10, 0.85, 1e-4, 1), row("d", 0.0, 0.70, 1.0, 100)]
    fig = comparison_pareto({"rows": rows})
    front = next(t for t in fig.data if t.name == "Pareto front")
    assert list(front.x) == [0.80, 0.92], "a and b are Pareto-optimal; c (by b) and d (by a) are dominated"
    methods = next(t for t in fig.data if t.name == "methods")
    assert list(methods.text) == ["a", "b", "c", "d"]
    assert next(t for t in fig.data if t.name == "original").x == (0.66,)
    sizes = dict(zip(methods.text, methods.marker.size))
    assert sizes["b"] > sizes["a"] > sizes["c"], "more parameters changed = larger marker"
    assert list(methods.error_y.array) == pytest.approx([0.02] * 4)
    labels = {a.text: a.ay for a in fig.layout.annotations if a.text in {"a", "b", "c", "d"}}
    assert len(labels) == 4, "every method is named on the chart"
    crowded = comparison_pareto({"rows": [row(m, 0.0, 0.68 + 0.001 * i, 0.002, 5) for i, m in enumerate("pqrs")]})
    heights = [a.ay for a in crowded.layout.annotations if a.text in set("pqrs")]
    assert len(set(heights)) == 4, "methods on the same spot get their names at different heights"
    # the shared fixture's rows (no intervals) draw too; its oracle dominates every other method
    fig = comparison_pareto(make_comparison())
    assert not [t for t in fig.data if t.name == "Pareto front"]
    assert len(comparison_pareto([]).data) == 0


def test_terminal_command_gives_a_forget_set_of_ids_as_ids_and_no_machine_paths():
    from steu_core.compare import portable_command

    cmd = portable_command("default", "/srv/hospital/train.csv", "/srv/hospital/eval.csv", "substance",
                           None, ["steu", "head_only"], "/tmp/req-1/ids.csv", "note_id")
    assert "--forget-ids ids.csv --id-column note_id" in cmd and "--forget " not in cmd
    assert "/srv" not in cmd and "/tmp" not in cmd and "--methods steu,head_only" in cmd


def test_every_bound_sits_on_its_field_and_one_validator_checks_it():
    from dataclasses import fields

    from steu_core.methods.base import setting_fields
    from steu_core.methods.settings import StoppingRule, bounds_text

    # the stopping rule is declared once: the methods that stop on forget F1 share its fields
    shared = {f.name for f in fields(StoppingRule)}
    for name in ("steu", "head_only", "grad_ascent", "finetune_retain", "random_tokens", "steu_rows_only"):
        assert shared <= {f.name for f in fields(get_method(name).Config)}, name
        for f in setting_fields(name):  # a form shows each bound the validator checks
            meta = next(x.metadata for x in fields(get_method(name).Config) if x.name == f.name)
            assert f.bounds == bounds_text(meta)
    for name, bad, words in (("steu", {"check_every": 0}, "must be at least 1"),
                             ("head_only", {"retain_tolerance": -0.1}, "must be zero or more"),
                             ("grad_ascent", {"max_grad_norm": float("inf")}, "must be a positive number"),
                             ("finetune_retain", {"forget_f1_target": 1.5}, "must be between 0 and 1"),
                             ("retrain_oracle", {"epochs": 0}, "must be at least 1")):
        with pytest.raises(ConfigError, match=f"setting '{next(iter(bad))}' {words}"):
            get_method(name)(bad)
