"""The memory-bounded data path (compact token ids, streamed tokenisation and PMI counting), the GPU
helpers as they behave on a CPU (autocast off, precision checks), out-of-memory recovery (simulated),
and the single-process no-op of steu_core.distributed."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from steu_core import accel, distributed
from steu_core.errors import ConfigError, SteuError
from steu_core.model import (Encoded, compute_features, compute_logits, encode, iter_encode, load_classifier,
                             pad_batch)
from steu_core.data import load_notes
from steu_core.pmi import coverage, document_frequency
from steu_core.runs import UnlearnRequest, run_unlearning

docs_strategy = st.lists(st.lists(st.integers(min_value=0, max_value=40), max_size=15), max_size=30)


@settings(max_examples=60, deadline=None)
@given(docs_strategy, st.integers(min_value=1, max_value=64))
def test_compact_ids_behave_like_lists(docs, chunk_tokens):
    enc = Encoded(docs, truncated=0, max_length=16)
    assert len(enc) == len(docs)
    assert [list(x) for x in enc.ids] == docs
    assert enc.nbytes == 4 * sum(map(len, docs)) + 8 * (len(docs) + 1)
    # document frequency: compact (any chunking), its ids view, and plain lists agree
    ref, n = document_frequency(docs, 41)
    assert n == len(docs)
    for form in (enc, enc.ids, [enc.subset(range(0, len(docs) // 2)), enc.subset(range(len(docs) // 2, len(docs)))]):
        got, m = document_frequency(form, 41)
        assert m == n and got.tolist() == ref.tolist()
    from steu_core.pmi import _compact_df

    small = np.zeros(41, np.int64)
    _compact_df(enc.flat, enc.offsets, 41, small, chunk_tokens=chunk_tokens)
    assert small.tolist() == ref.tolist()
    assert coverage(enc, [3, 7]).tolist() == coverage(docs, [3, 7]).tolist()
    if docs:
        idx = [len(docs) - 1, 0, len(docs) // 2, 0]
        assert [list(x) for x in enc.subset(idx).ids] == [docs[i] for i in idx]
        nonempty = [i for i in idx if docs[i]]
        if nonempty:
            a, am = enc.pad(nonempty, pad_id=0)
            b, bm = pad_batch([docs[i] for i in nonempty], 0, torch.device("cpu"))
            assert torch.equal(a, b) and torch.equal(am, bm)


def test_token_ids_view_indexing():
    enc = Encoded([[1, 2], [], [3]], 0, 8)
    assert enc.ids[-1].tolist() == [3] and enc.ids[1].tolist() == []
    assert [x.tolist() for x in enc.ids[0:3:2]] == [[1, 2], [3]]
    with pytest.raises(IndexError):
        enc.ids[3]
    assert enc.lengths.tolist() == [2, 0, 1]
    assert len(Encoded.concat([])) == 0
    assert document_frequency([[99, 1]], 10)[0].tolist() == [0, 1] + [0] * 8  # out of vocabulary: ignored


def test_streamed_tokenisation_matches_and_truncates_keeping_the_closing_token(tiny_bert):
    clf = load_classifier(tiny_bert, device="cpu")
    texts = [f"patient {i} reports chest pain " + "and cough " * (i % 7) for i in range(23)]
    whole = encode(clf.tokenizer, texts, max_length=10, batch=1024)
    chunks = list(iter_encode(clf.tokenizer, iter(texts), max_length=10, batch=4))
    assert len(chunks) == 6
    streamed = Encoded.concat(chunks)
    assert streamed.flat.tolist() == whole.flat.tolist() and streamed.offsets.tolist() == whole.offsets.tolist()
    full = clf.tokenizer(texts)["input_ids"]
    assert whole.truncated == sum(len(s) > 10 for s in full) > 0
    for seq, ids in zip(full, whole.ids):
        assert len(ids) == min(len(seq), 10) and ids[-1] == seq[-1] and ids.dtype == np.int32
    # a PMI count straight from the stream equals the count over the whole encoding
    a, n = document_frequency(iter_encode(clf.tokenizer, texts, 10, batch=4), len(clf.tokenizer))
    b, m = document_frequency(whole, len(clf.tokenizer))
    assert n == m == 23 and np.array_equal(a, b)


# --------------------------------------------------------------------------------------------
# Out-of-memory recovery, simulated on the CPU


def _oom():
    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")


def test_map_batches_halves_on_out_of_memory_and_remembers(caplog):
    accel.forget_learned_batch_sizes()
    seen = []

    def compute(idx):
        if len(idx) > 3:
            raise _oom()
        return idx.tolist()

    def store(idx, part):
        assert part == idx.tolist()
        seen.extend(part)

    dev = torch.device("cpu")
    with caplog.at_level(logging.WARNING, logger="steu_core"):
        size = accel.map_batches(np.arange(20), 16, compute, store, device=dev, what="scoring")
    assert sorted(seen) == list(range(20)) and len(seen) == 20  # every item exactly once
    assert size == 2
    assert "out of cpu memory with 16 notes per batch; retrying with 8" in caplog.text
    assert accel.start_batch_size(dev, "scoring", 64) == 2  # later calls start at what fitted
    accel.forget_learned_batch_sizes()
    assert accel.start_batch_size(dev, "scoring", 64) == 64


def test_map_batches_gives_a_clear_error_when_one_note_does_not_fit_and_passes_other_errors():
    accel.forget_learned_batch_sizes()

    def always(idx):
        raise _oom()

    with pytest.raises(SteuError, match="out of cpu memory even with one note per batch"):
        accel.map_batches(np.arange(5), 4, always, print, device=torch.device("cpu"), what="scoring")

    def broken(idx):
        raise ValueError("not memory")

    with pytest.raises(ValueError, match="not memory"):
        accel.map_batches(np.arange(5), 4, broken, print, device=torch.device("cpu"), what="other")
    accel.forget_learned_batch_sizes()
    assert accel.is_oom(RuntimeError("MPS backend out of memory")) and not accel.is_oom(RuntimeError("shape"))


def test_scoring_recovers_from_out_of_memory_with_the_same_results(tiny_bert, monkeypatch):
    accel.forget_learned_batch_sizes()
    clf = load_classifier(tiny_bert, device="cpu")
    enc = encode(clf.tokenizer, [f"note {i} chest pain cough wheezing " * (1 + i % 3) for i in range(30)], 32)
    ref_feats, ref_logits = compute_features(clf, enc, 16), compute_logits(clf, enc, 16)
    real = clf.adapter.features
    calls = []

    def flaky(model, ids, mask):
        calls.append(len(ids))
        if len(ids) > 5:
            raise _oom()
        return real(model, ids, mask)

    monkeypatch.setattr(clf.adapter, "features", flaky)
    feats = compute_features(clf, enc, 16)
    assert max(calls) == 16 and calls.count(16) == 1 and all(c <= 4 for c in calls[3:])
    assert torch.allclose(feats, ref_feats, atol=1e-5)
    assert torch.allclose(compute_logits(clf, enc, 16, feats=feats), ref_logits, atol=1e-5)
    accel.forget_learned_batch_sizes()


def test_steu_step_recovers_from_out_of_memory_with_the_same_result(tiny_bert, tiny_data, tmp_path, monkeypatch):
    from steu_core.methods import pools as steu_mod  # the training step scores its pools there
    from steu_core.runs import UnlearnRequest, run_unlearning

    def run(out):
        req = UnlearnRequest(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
                             forget_class=tiny_data["forget_class"], out=out, device="cpu", max_length=48,
                             min_forget=5, settings={"k": 6, "max_steps": 10, "lr_rows": 0.05, "lr_head": 0.02,
                                                     "min_df": 2, "min_steps": 20}, record_ledger=False)
        d = run_unlearning(req)
        from safetensors.torch import load_file

        return json.loads((d / "results.json").read_text()), load_file(str(d / "patch.safetensors"))

    ref, ref_patch = run(tmp_path / "ref")
    real = steu_mod.pool_logits
    sizes = []

    def flaky(clf, pool, idx, override, use_cache):
        if torch.is_grad_enabled():
            sizes.append(len(idx))
            if len(idx) > 4:
                raise _oom()
        return real(clf, pool, idx, override, use_cache)

    monkeypatch.setattr(steu_mod, "pool_logits", flaky)
    got, got_patch = run(tmp_path / "oom")
    assert max(sizes) == 16 and sizes[-1] <= 4  # the first step ran into it, the rest used micro-batches
    assert [t["id"] for t in got["selected_tokens"]] == [t["id"] for t in ref["selected_tokens"]]
    # the same gradients up to float summation order (Adam's first, sign-like step turns that noise
    # into differences of a fraction of one learning-rate step, hence the tolerances)
    assert got["training"]["history"][0]["loss"] == pytest.approx(ref["training"]["history"][0]["loss"], rel=1e-6)
    assert len(got["training"]["history"]) == len(ref["training"]["history"])
    for key in ref_patch:
        assert torch.allclose(got_patch[key].float(), ref_patch[key].float(), atol=2e-3, rtol=1e-3), key
    assert got["forget_f1_after"] == ref["forget_f1_after"] and got["retain_f1_after"] == ref["retain_f1_after"]


# --------------------------------------------------------------------------------------------
# Precision and placement on a CPU


def test_precision_on_cpu_is_fp32_unless_bf16_is_asked_for_and_native():
    cpu = torch.device("cpu")
    assert accel.autocast_dtype(cpu, "auto") is None and accel.autocast_dtype(cpu, "fp32") is None
    assert accel.cache_device(cpu, 10 ** 12) == cpu
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        accel.check_precision(cpu, "fp16")
    with pytest.raises(ConfigError, match="unknown precision"):
        accel.check_precision(cpu, "int8")


def test_bf16_on_a_cpu_without_native_bf16_is_refused_clearly(tiny_bert, tiny_data, tmp_path, capsys, monkeypatch):
    from steu_core.cli import main

    monkeypatch.setattr(accel, "cpu_has_native_bf16", lambda: False)
    code = main(["unlearn", "--model", str(tiny_bert), "--train", str(tiny_data["train"]), "--eval",
                 str(tiny_data["eval"]), "--forget-class", "substance", "--out", str(tmp_path / "r"),
                 "--device", "cpu", "--precision", "bf16", "--quiet", "--min-forget", "5"])
    assert code == 2
    assert "needs native bf16 instructions (AMX or AVX-512 BF16), which this CPU lacks" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(not accel.cpu_has_native_bf16(), reason="this CPU has no native bf16")
def test_bf16_on_a_native_cpu_is_used_and_recorded(tiny_bert, tiny_data, tmp_path):
    cpu = torch.device("cpu")
    assert accel.autocast_dtype(cpu, "bf16") == accel.autocast_dtype(cpu, "bf16", training=True) == torch.bfloat16
    clf = load_classifier(tiny_bert, device="cpu")
    enc = encode(clf.tokenizer, load_notes(tiny_data["eval"]).texts, 48)
    exact = compute_logits(clf, enc)
    clf.precision = "bf16"
    fast = compute_logits(clf, enc)
    assert fast.dtype == torch.float32 and not torch.equal(fast, exact), "bf16 really was used"
    assert torch.allclose(fast, exact, atol=0.05), "and stays close to fp32"
    out = run_unlearning(UnlearnRequest(model=str(tiny_bert), train=tiny_data["train"], eval=tiny_data["eval"],
                                        forget_class="substance", out=tmp_path / "r", device="cpu", precision="bf16",
                                        max_length=48, min_forget=5, settings={"max_steps": 5}, record_ledger=False))
    r = json.loads((out / "results.json").read_text())
    assert r["precision"] == {"requested": "bf16", "scoring": "bfloat16", "training": "bfloat16"}
    assert r["param_diff_verdict"] == "pass"


def test_single_process_distributed_helpers_are_plain_calls(tiny_bert):
    dp = distributed.current()
    assert not dp.enabled and dp.is_main and dp.world == 1
    assert dp.shard([1, 2, 3]) == [1, 2, 3] and dp.block(7) == (0, 7)
    assert dp.any(True) and not dp.any(False) and dp.broadcast({"a": 1}) == {"a": 1}
    t = torch.ones(3)
    dp.sum_([t])
    assert t.tolist() == [1.0, 1.0, 1.0]
    out = distributed.map_rows(130, lambda idx: torch.tensor(idx, dtype=torch.float32)[:, None], chunk=64, device="cpu")
    assert out[:, 0].tolist() == list(range(130))
    enc = Encoded([[1, 2], [2], [3, 3]], 0, 8)
    assert distributed.document_frequency(enc, 5)[0].tolist() == [0, 1, 2, 1, 0]
    clf = load_classifier(tiny_bert, device="cpu")
    e = encode(clf.tokenizer, ["chest pain", "cough and fever today"], 16)
    assert torch.equal(distributed.compute_features(clf, e), compute_features(clf, e))
