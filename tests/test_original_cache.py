"""steu_core.runs.original_cache: the original model's scores reused by a second request, exactly."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from steu_core import distributed
from steu_core.model import Encoded
from steu_core.runs import UnlearnRequest, original_cache, run_unlearning
from steu_core.runs import pipeline

# figures that depend on the original's scores (run ids, times and dates differ between runs)
VOLATILE = {"run_id", "created_utc", "wall_seconds", "seeds", "request"}


def _run(tiny_bert, tiny_data, out: Path, **kw) -> dict:
    req = dict(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"], forget=tiny_data["forget"],
               forget_class="substance", out=out, device="cpu", max_length=48, min_forget=5,
               settings={"max_steps": 8}, record_ledger=False)
    run_unlearning(UnlearnRequest(**{**req, **kw}))
    return json.loads((out / "results.json").read_text())


def _figures(r: dict) -> dict:
    """Everything but ids and times; the new model by its hash (the patch file names its run)."""
    out = {k: v for k, v in r.items() if k not in VOLATILE | {"hashes", "training"}}
    out["unlearned_model"] = r["hashes"]["unlearned_model"]
    out["training"] = {k: v for k, v in r["training"].items() if not k.endswith("seconds")}
    return out


def _entries() -> list[Path]:
    return sorted(original_cache.cache_dir().glob("*.safetensors"))


def test_a_second_request_reads_the_cache_and_gets_exactly_the_same_results(tiny_bert, tiny_data, tmp_path,
                                                                             monkeypatch):
    from steu_core.runs import pipeline as pipeline_module

    first = _run(tiny_bert, tiny_data, tmp_path / "a")
    assert len(_entries()) == 4  # the scores, the retain-pool features, the eval and retain token ids

    def no_scoring(*a, **k):
        raise AssertionError("the original was scored again")

    # the original's scores come from the cache: scoring them must not happen (the new model's
    # scoring goes through the exact feature cache, which recomputes only the edited notes)
    calls, method_calls, loaded = [], [], []
    real = pipeline.compute_features  # the new model's edited notes go through it too: only the original's count
    monkeypatch.setattr(pipeline, "compute_features", lambda clf, *a, **k: calls.append(clf) or real(clf, *a, **k))
    real_load = pipeline.load_classifier
    monkeypatch.setattr(pipeline, "load_classifier", lambda *a, **k: loaded.append(real_load(*a, **k)) or loaded[-1])
    real_shared = distributed.compute_features  # what the method calls for its retain pool
    monkeypatch.setattr(distributed, "compute_features", lambda *a, **k: method_calls.append(1) or real_shared(*a, **k))
    tokenised = []
    real_encode = pipeline_module.encode
    monkeypatch.setattr(pipeline_module, "encode", lambda tok, texts, *a, **k: tokenised.extend(texts) or
                        real_encode(tok, texts, *a, **k))
    second = _run(tiny_bert, tiny_data, tmp_path / "b")
    assert loaded and not [clf for clf in calls if clf is loaded[0]], "the original's features were computed again"
    # only the forget notes are tokenised again (their ids are never kept), plus one note for the
    # tokenizer's state (pipeline.tokenize); the evaluation and retain notes' ids are read
    forget_texts = set(pd.read_csv(tiny_data["forget"])["text"])
    assert tokenised and set(tokenised) <= forget_texts, "the evaluation or retain notes were tokenised again"
    assert not method_calls, "the method computed the original's retain features again"
    assert _figures(second) == _figures(first)
    assert len(_entries()) == 4  # all read, none added


def test_a_changed_model_data_or_max_length_is_a_new_key():
    base = dict(model_sha256="m", eval_sha256="e", forget_sha256="f", max_length=128, batch_size=64, device="cpu",
                precision="auto")
    key = original_cache.cache_key(**base)
    assert original_cache.cache_key(**base) == key
    for field, other in (("model_sha256", "m2"), ("eval_sha256", "e2"), ("forget_sha256", "f2"), ("max_length", 64),
                         ("batch_size", 32), ("device", "cuda:0"), ("precision", "bf16")):
        assert original_cache.cache_key(**{**base, field: other}) != key, field


def test_another_max_length_misses_and_scores_again(tiny_bert, tiny_data, tmp_path, monkeypatch):
    _run(tiny_bert, tiny_data, tmp_path / "a")
    calls = []
    real = pipeline.compute_features
    monkeypatch.setattr(pipeline, "compute_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    _run(tiny_bert, tiny_data, tmp_path / "b", max_length=40)
    assert len(calls) >= 2, "the original was not scored for the new maximum length"
    # a new scores entry and two new token-id entries; the retain-pool features are shared when no
    # note reaches either limit (same ids)
    assert len(_entries()) in (7, 8)


def _fresh() -> dict:
    g = torch.Generator().manual_seed(0)
    return {"eval_logits": torch.randn(5, 3, generator=g), "forget_logits": torch.randn(4, 3, generator=g),
            "eval_feats": torch.randn(5, 8, generator=g), "forget_feats": torch.randn(4, 8, generator=g)}


def test_a_hit_returns_exactly_what_was_stored_and_computes_nothing():
    fresh = _fresh()
    got, hit = original_cache.scores("k1", lambda: fresh, 5, 4, torch.device("cpu"))
    assert not hit and got is fresh
    again, hit = original_cache.scores("k1", lambda: pytest.fail("computed again"), 5, 4, torch.device("cpu"))
    assert hit and all(torch.equal(again[k], fresh[k]) for k in fresh)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_rows"])
def test_a_corrupt_entry_is_ignored_and_rebuilt(damage):
    fresh = _fresh()
    original_cache.scores("k2", lambda: fresh, 5, 4, torch.device("cpu"))
    path = original_cache.entry_path("k2")
    if damage == "garbage":
        path.write_bytes(b"not a safetensors file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-20])
    else:
        original_cache.save("k2", {**fresh, "eval_logits": fresh["eval_logits"][:3]})
    rebuilt = []
    got, hit = original_cache.scores("k2", lambda: rebuilt.append(1) or fresh, 5, 4, torch.device("cpu"))
    assert not hit and rebuilt == [1]
    got, hit = original_cache.scores("k2", lambda: pytest.fail("computed again"), 5, 4, torch.device("cpu"))
    assert hit and torch.equal(got["eval_logits"], fresh["eval_logits"])


def test_no_key_means_no_entry():
    original_cache.scores(None, _fresh, 5, 4, torch.device("cpu"))
    assert _entries() == []


def test_only_the_newest_entries_are_kept():
    for i in range(original_cache.KEEP + 3):
        original_cache.scores(f"k{i}", _fresh, 5, 4, torch.device("cpu"))
    assert len(_entries()) == original_cache.KEEP


def test_features_are_keyed_by_the_notes_token_ids_and_rebuilt_when_corrupt():
    a, b = Encoded([[1, 2, 3], [4, 5]]), Encoded([[1, 2, 3], [4, 6]])
    ka = original_cache.features_key("m", a, 64, "cpu", "auto")
    assert ka != original_cache.features_key("m", b, 64, "cpu", "auto")
    assert ka != original_cache.features_key("m2", a, 64, "cpu", "auto")
    feats = torch.randn(2, 8)
    assert original_cache.features(ka, lambda: feats, 2, torch.device("cpu")) is feats
    assert torch.equal(original_cache.features(ka, lambda: pytest.fail("computed again"), 2, torch.device("cpu")),
                       feats)
    original_cache.entry_path(ka).write_bytes(b"broken")
    assert original_cache.features(ka, lambda: feats, 2, torch.device("cpu")) is feats


def test_the_new_models_forget_logits_are_the_methods_own_and_match_a_fresh_scoring(tiny_bert, tiny_data):
    """The method's last stopping-rule check scored the final model on the forget set: the run reuses
    those logits (no second encoder pass); they are the saved model's logits up to float rounding."""
    from steu_core.methods import get_method
    from steu_core.model import compute_logits, encode, load_classifier
    from steu_core.methods.base import UnlearnContext
    from steu_core.data import load_notes

    clf = load_classifier(tiny_bert)
    train = load_notes(tiny_data["train"])
    fc = clf.labels.index("substance")
    forget, retain = train.where_label("substance"), train.where_label("substance", equal=False)
    ctx = UnlearnContext(original=clf, forget=encode(clf.tokenizer, forget.texts, 48),
                         retain=encode(clf.tokenizer, retain.texts, 48),
                         retain_labels=torch.as_tensor([clf.labels.index(y) for y in retain.labels]),
                         forget_class_id=fc, max_length=48)
    for settings in ({"max_steps": 3}, {"max_steps": 30, "min_steps": 1, "check_every": 1}):
        result = get_method("steu")(settings).run(ctx)
        fresh = compute_logits(result.model, ctx.forget, 64)
        assert result.forget_logits is not None and result.forget_logits.shape == fresh.shape
        assert torch.allclose(result.forget_logits, fresh, atol=1e-5, rtol=0)
        assert torch.equal(result.forget_logits.argmax(-1), fresh.argmax(-1))


def test_the_run_scores_the_new_model_on_the_forget_set_only_once(tiny_bert, tiny_data, tmp_path, monkeypatch):
    scored: list[tuple[int, int]] = []  # (which model, how many notes)
    real, real_head = pipeline.compute_logits, pipeline.head_logits  # the new model: the head on its head inputs
    monkeypatch.setattr(pipeline, "compute_logits", lambda clf, enc, *a, **k: scored.append((id(clf), len(enc))) or
                        real(clf, enc, *a, **k))
    monkeypatch.setattr(pipeline, "head_logits", lambda clf, feats, *a, **k: scored.append((id(clf), len(feats))) or
                        real_head(clf, feats, *a, **k))
    r = _run(tiny_bert, tiny_data, tmp_path / "a")
    models = list(dict.fromkeys(m for m, _ in scored))
    assert len(models) == 2  # the original (first request: nothing cached), then the new model
    original, new = ([n for m, n in scored if m == k] for k in models)
    n_eval, n_forget = r["data"]["eval_rows"], r["data"]["forget"]["rows"]
    assert sorted(original) == sorted([n_eval, n_forget])
    assert new == [n_eval], "the new model was scored on the forget set again"


def test_token_ids_are_keyed_by_model_text_and_max_length_and_read_back_exactly(tiny_bert, tiny_data):
    from steu_core.data import load_notes
    from steu_core.model import encode, load_classifier

    tok = load_classifier(tiny_bert).tokenizer
    texts = list(load_notes(tiny_data["train"]).texts)
    key = original_cache.tokens_key("m", texts, 16)
    changed = [texts[0] + " x", *texts[1:]]
    assert len({key, original_cache.tokens_key("m2", texts, 16), original_cache.tokens_key("m", texts, 17),
                original_cache.tokens_key("m", changed, 16), original_cache.tokens_key("m", texts[:-1], 16),
                original_cache.tokens_key("m", ["ab", "c"], 16), original_cache.tokens_key("m", ["a", "bc"], 16)}) == 7
    fresh = encode(tok, texts, 16)
    assert fresh.truncated > 0  # the stored count is checked, not only the ids
    assert original_cache.encoded(key, lambda: fresh, len(texts), 16) is fresh
    again = original_cache.encoded(key, lambda: pytest.fail("tokenised again"), len(texts), 16)
    assert (np.array_equal(again.flat, fresh.flat) and np.array_equal(again.offsets, fresh.offsets)
            and (again.truncated, again.max_length) == (fresh.truncated, 16))
    original_cache.entry_path(key).write_bytes(b"broken")  # a corrupt entry is a miss, rebuilt
    assert original_cache.encoded(key, lambda: fresh, len(texts), 16) is fresh
    assert original_cache.encoded(key, lambda: pytest.fail("not rebuilt"), len(texts), 16).truncated == fresh.truncated
    assert original_cache.encoded(key, lambda: fresh, len(texts) + 1, 16) is fresh  # wrong note count: a miss


def test_reusing_the_methods_forget_logits_gives_the_figures_of_a_fresh_scoring(tiny_bert, tiny_data, tmp_path,
                                                                                 monkeypatch):
    from steu_core.methods import steu

    reused = _run(tiny_bert, tiny_data, tmp_path / "a")
    real = steu.Steu.run
    monkeypatch.setattr(steu.Steu, "run", lambda self, ctx: replace(real(self, ctx), forget_logits=None))
    fresh = _run(tiny_bert, tiny_data, tmp_path / "b")
    assert _figures(reused)["unlearned_model"] == _figures(fresh)["unlearned_model"]  # the same training
    assert _close(_figures(reused), _figures(fresh))


def _close(a, b) -> bool:
    """Equal, numbers within 1e-6 (JSON trees of dicts, lists, strings and numbers)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, (int, float)):
        return a == pytest.approx(b, abs=1e-6, nan_ok=True)
    return a == b


FORGET_CANARY = "zyqwarth quillby"  # a patient name planted in one forget note
RETAIN_CANARY = "vorblenth"  # planted in one retain note: shows the decoding finds what is kept


def _canary_files(tiny_data, d: Path) -> tuple[Path, Path]:
    train = pd.read_csv(tiny_data["train"])
    first_forget = train.index[train["label"] == "substance"][0]
    first_retain = train.index[train["label"] != "substance"][0]
    train.loc[first_forget, "text"] = f"patient {FORGET_CANARY}, mrn 4471993, " + train.loc[first_forget, "text"]
    train.loc[first_retain, "text"] = f"{RETAIN_CANARY} " + train.loc[first_retain, "text"]
    train.to_csv(d / "train.csv", index=False)
    train[train["label"] == "substance"].to_csv(d / "forget.csv", index=False)
    return d / "train.csv", d / "forget.csv"


def _decoded_integer_tensors(home: Path, tokenizer) -> list[str]:
    """Every integer tensor of every safetensors file in the data directory, decoded as token ids."""
    from safetensors.numpy import load_file as load_arrays

    texts = []
    for path in home.rglob("*.safetensors"):
        for array in load_arrays(str(path)).values():
            if np.issubdtype(array.dtype, np.integer):
                ids = [int(i) for i in array.ravel() if 0 <= int(i) < len(tokenizer)]
                texts.append(tokenizer.decode(ids))
    return texts


def test_no_forget_note_can_be_decoded_from_the_data_directory(tiny_bert, tiny_data, tmp_path):
    from steu_core.model import load_classifier
    from steu_core.paths import steu_home

    train, forget = _canary_files(tiny_data, tmp_path)
    for out in ("a", "b"):  # the second request reads the cache (and must not add the forget notes either)
        _run(tiny_bert, tiny_data, tmp_path / out, train=train, forget=forget)
    decoded = _decoded_integer_tensors(steu_home(), load_classifier(tiny_bert).tokenizer)
    assert any(RETAIN_CANARY in text for text in decoded), "the decoding test found nothing it should"
    assert not [text for text in decoded if "zyqwarth" in text.replace(" ", "")], "a forget note is in the data dir"


def test_entries_of_an_earlier_format_are_removed_when_the_cache_is_written():
    """An earlier version kept the forget notes' token ids: its entries go at the next write."""
    from safetensors.numpy import save_file as save_arrays

    old = original_cache.entry_path("old")
    save_arrays({"flat": np.arange(4, dtype=np.int32)}, str(old), metadata={"format": "steu-original-scores/1"})
    original_cache.scores("k-new", _fresh, 5, 4, torch.device("cpu"))
    assert not old.exists() and original_cache.entry_path("k-new").exists()
