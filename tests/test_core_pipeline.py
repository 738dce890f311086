"""End to end on tiny trained models of three architectures: STEU forgets, only the allowed
parameters change, the original is untouched, the patch round-trips, the outputs are complete."""
from __future__ import annotations

import json

import pytest
import torch

from steu_core.audits.param_diff import load_state
from steu_core.cli import main
from steu_core.model import hash_directory
from steu_core.phi import selected_ids
from steu_core.patch import apply_patch, load_patch, revert_patch
from steu_core.runs import UnlearnRequest, run_unlearning, staging_dir

FAST = {"max_steps": 40, "lr_rows": 0.05, "lr_head": 0.02, "min_df": 2}


def _run(model, tiny_data, out, **kw):
    req = UnlearnRequest(model=str(model), train=tiny_data["train"], eval=tiny_data["eval"],
                         forget_class=tiny_data["forget_class"], out=out, settings=dict(FAST, k=6),
                         device="cpu", max_length=48, min_forget=5, **kw)
    return run_unlearning(req)


def test_steu_forgets_and_changes_only_rows_and_head(tiny_any, tiny_data, tmp_path):
    before_hash = hash_directory(tiny_any)
    out = _run(tiny_any, tiny_data, tmp_path / "run")
    r = json.loads((out / "results.json").read_text())
    assert r["forget_f1_before"] > 0.5, "the tiny model should have learnt the class before unlearning"
    assert r["forget_f1_after"] <= 0.05
    assert r["retain_f1_after"] >= r["retain_f1_before"] - 0.15
    assert r["param_diff_verdict"] == "pass" and r["encoder_unchanged"] is True
    assert r["k"] == 6 and len(r["selected_tokens"]) == 6
    assert [t for t in r["selected_tokens"] if t["l2_change"] > 0], "at least one selected row must have moved"
    # masked tokens carry no vocabulary id in results.json; the run's own patch gives them back (steu_core.phi)
    selected = set(selected_ids(r, out))
    assert len(selected) == sum(1 for t in r["selected_tokens"] if not t["masked"] or t["l2_change"] > 0)
    # counted from the files: embedding rows outside the selection are bit-identical
    a, b = load_state(tiny_any), load_state(out / "model")
    emb = next(k for k in a if k.endswith("word_embeddings.weight"))
    rows_changed = set(torch.nonzero((a[emb] != b[emb]).any(dim=1)).flatten().tolist())
    assert rows_changed <= selected
    assert r["changed_embedding_rows"] == len(rows_changed)
    assert r["params_changed"] == sum(int((a[k] != b[k]).sum()) for k in a)
    # the original model directory is byte-identical
    assert hash_directory(tiny_any) == before_hash
    assert r["hashes"]["original_model"] == before_hash["sha256"]
    for name in ("manifest.json", "patch.safetensors", "model/config.json"):
        assert (out / name).is_file()
    assert not staging_dir(out).exists()


def test_patch_round_trips_bit_identical(tiny_bert, tiny_data, tmp_path):
    out = _run(tiny_bert, tiny_data, tmp_path / "run")
    patch = load_patch(out / "patch.safetensors")
    original, new = load_state(tiny_bert), load_state(out / "model")
    applied = apply_patch(original, patch)
    assert set(applied) == set(new) and all(torch.equal(applied[k], new[k]) for k in new)
    reverted = revert_patch(new, patch)
    assert all(torch.equal(reverted[k], original[k]) for k in original)
    with pytest.raises(ValueError):
        apply_patch(new, patch)  # already applied: refused, not silently doubled


def test_feature_cache_is_exact(tiny_bert, tiny_data, tmp_path):
    """With and without the cache the same rows move and the audits agree."""
    a = json.loads((_run(tiny_bert, tiny_data, tmp_path / "a") / "results.json").read_text())
    b = json.loads((_run(tiny_bert, tiny_data, tmp_path / "b", use_cache=False) / "results.json").read_text())
    assert a["model"]["feature_cache"] is True and b["model"]["feature_cache"] is False
    assert [t["id"] for t in a["selected_tokens"]] == [t["id"] for t in b["selected_tokens"]]
    assert a["training"]["steps"] == b["training"]["steps"]
    for key in ("forget_f1_after", "retain_f1_after", "macro_f1_after"):
        assert a[key] == pytest.approx(b[key], abs=1e-6)
    la = [t["l2_change"] for t in a["selected_tokens"]]
    lb = [t["l2_change"] for t in b["selected_tokens"]]
    assert la == pytest.approx(lb, abs=1e-4)


def test_deterministic_for_a_seed(tiny_bert, tiny_data, tmp_path):
    a = _run(tiny_bert, tiny_data, tmp_path / "a")
    b = _run(tiny_bert, tiny_data, tmp_path / "b")
    assert hash_directory(a / "model")["sha256"] == hash_directory(b / "model")["sha256"]


def test_results_json_has_the_contract_keys(tiny_bert, tiny_data, tmp_path):
    r = json.loads((_run(tiny_bert, tiny_data, tmp_path / "run") / "results.json").read_text())
    for key in ("method", "forget_class", "k", "selected_tokens", "params_total", "params_changed",
                "params_changed_fraction", "changed_tensors", "forget_f1_before", "forget_f1_after",
                "retain_f1_before", "retain_f1_after", "per_class_f1_before", "per_class_f1_after", "mia",
                "wall_seconds", "device", "seed", "hashes", "coverage", "confusion_before", "confusion_after"):
        assert key in r, key
    for key in ("loss_auc_before", "loss_auc_after", "tpr_at_1pct_fpr_before", "tpr_at_1pct_fpr_after",
                "loss_auc_ci_before", "loss_auc_ci_after"):
        assert key in r["mia"], key
    lo, hi = r["mia"]["loss_auc_ci_after"]
    assert 0 <= lo <= hi <= 1
    assert set(r["wall_seconds"]) >= {"select", "unlearn", "audit"}
    assert {t["token"] for t in r["selected_tokens"]}.isdisjoint({"[CLS]", "[SEP]", "[PAD]"})


def test_cli_unlearn_and_verify(tiny_bert, tiny_data, tmp_path, capsys):
    out = tmp_path / "cli_run"
    code = main(["unlearn", "--model", str(tiny_bert), "--train", str(tiny_data["train"]), "--eval",
                 str(tiny_data["eval"]), "--forget-class", "substance", "--out", str(out), "--k", "6",
                 "--settings", json.dumps({k: v for k, v in FAST.items()}), "--device", "cpu",
                 "--max-length", "48", "--min-forget", "5", "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "forget F1" in text and "parameter diff: PASS" in text
    assert main(["verify", "--original", str(tiny_bert), "--unlearned", str(out)]) == 0
    assert "Encoder bit-identical: yes" in capsys.readouterr().out


def test_verify_fails_loudly_on_an_encoder_change(tiny_bert, tiny_data, tmp_path, capsys):
    from safetensors.torch import save_file

    out = _run(tiny_bert, tiny_data, tmp_path / "run")
    state = load_state(out / "model")
    key = next(k for k in state if "encoder.layer.0" in k and state[k].dim() == 2)
    state[key] = state[key].clone()
    state[key][0, 0] += 1.0
    save_file(state, str(out / "model" / "model.safetensors"), metadata={"format": "pt"})
    assert main(["verify", "--original", str(tiny_bert), "--unlearned", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "FAIL" in printed and key in printed


def test_cli_patch_apply_and_revert(tiny_bert, tiny_data, tmp_path):
    out = _run(tiny_bert, tiny_data, tmp_path / "run")
    applied, reverted = tmp_path / "applied", tmp_path / "reverted"
    assert main(["patch", "apply", "--model", str(tiny_bert), "--patch", str(out / "patch.safetensors"),
                 "--out", str(applied)]) == 0
    assert main(["patch", "revert", "--model", str(applied), "--patch", str(out / "patch.safetensors"),
                 "--out", str(reverted)]) == 0
    new, back, orig = load_state(out / "model"), load_state(applied), load_state(tiny_bert)
    assert all(torch.equal(new[k], back[k]) for k in new)
    assert all(torch.equal(orig[k], load_state(reverted)[k]) for k in orig)


def test_output_directory_that_exists_is_refused(tiny_bert, tiny_data, tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    code = main(["unlearn", "--model", str(tiny_bert), "--train", str(tiny_data["train"]), "--eval",
                 str(tiny_data["eval"]), "--forget-class", "substance", "--out", str(tmp_path / "taken"),
                 "--quiet", "--device", "cpu"])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
