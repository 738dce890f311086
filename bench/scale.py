"""How STEU Audit's cost grows with the corpus: 1k, 10k and 100k synthetic notes (max length 256),
the default MiniLM architecture (the packaged all-MiniLM-L6-v2 with a random 6-class head: throughput
does not depend on the head's weights), on this machine's CPU.

    python bench/scale.py [--sizes 1000,10000,100000] [--sample 128] [--forget 64] [--steps 4]

Each corpus size runs in its own process (so its peak memory is its own) and does, on ALL N notes:
  - generate them in chunks (data_samples/generate.py's generate_notes, one seed per chunk of 3000),
    tokenise each chunk (steu_core.model.iter_encode: compact int32 ids) and add it to the PMI
    document frequencies (steu_core.pmi.document_frequency) - one streaming pass, nothing of the
    corpus is kept but the counts, the forget set, a retain reservoir and the scoring sample;
and on fixed-size parts of it (what a 2-core CPU can time honestly):
  - scoring: logits of a sample of --sample notes drawn from the whole corpus, by steu_core
    (compute_logits: length-bucketed batches of 64, dynamic padding, inference mode) and by a naive
    ``transformers.pipeline("text-classification")`` loop, one note per call, over the SAME notes;
    steu_core in fp32 (the default: exact) and, where the CPU computes bf16 natively (AMX / AVX-512
    BF16), with ``--precision bf16`` (autocast), with its label agreement against fp32;
  - STEU: PMI selection over the full counts (k from the paper's 0.19 % budget), the feature cache
    over the forget set (--forget notes of the sensitive class) and the 256-note retain pool, and
    --steps optimisation steps (batch 16 + 16, no early stop).
Scoring is linear in the notes scored: the full-corpus time is N / throughput (printed as a
projection, not measured). STEU's cost depends on the forget set and the steps, not on N: only
the PMI counting pass sees every note.

Peak memory is the process's peak resident set (getrusage; psutil sampling shows the phase peaks).
Outputs: a table on stdout, bench/out/scale.json and bench/out/scale.md.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "data_samples"))
OUT = ROOT / "bench" / "out"
MAX_LENGTH = 256
CHUNK = 3000  # notes generated, tokenised and counted at a time


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2 ** 20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class RssSampler:
    """Peak RSS of this process between start() and stop(), sampled every 20 ms."""

    def __init__(self):
        self.peak, self._stop = 0.0, threading.Event()

    def __enter__(self):
        self.peak = rss_mb()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, rss_mb())


def note_chunks(n: int, seed: int = 7):
    """n synthetic notes in chunks of about CHUNK, each chunk its own generate_notes call and seed."""
    from generate import CLASSES, generate_notes

    per_class = max(1, CHUNK // len(CLASSES))
    done, i = 0, 0
    while done < n:
        rows = generate_notes(per_class, seed * 100_003 + i)[: n - done]
        done += len(rows)
        i += 1
        yield rows


def list_vs_compact_bytes(tokenizer, texts) -> dict:
    """Memory of the token ids of ``texts`` kept as Python lists (tracemalloc) and as Encoded."""
    from steu_core.model import encode

    tracemalloc.start()
    lists = tokenizer(list(texts), truncation=True, max_length=MAX_LENGTH)["input_ids"]
    list_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tokens = sum(map(len, lists))
    del lists
    enc = encode(tokenizer, texts, MAX_LENGTH)
    return {"tokens": tokens, "list_bytes_per_token": list_bytes / tokens,
            "compact_bytes_per_token": enc.nbytes / tokens}


def one_size(n: int, sample: int, forget_n: int, steps: int, pipeline_sample: int) -> dict:
    import numpy as np
    import torch
    from generate import CLASSES, SENSITIVE_CLASS

    from steu_core.methods.base import UnlearnContext
    from steu_core.methods.steu import SteuConfig, run_sparse_unlearning
    from steu_core.model import Encoded, compute_logits, iter_encode, load_classifier
    from steu_core.pmi import DEFAULT_BUDGET, document_frequency, k_from_budget, select_tokens
    from steu_core.train import base_model_path

    rng = np.random.default_rng(0)
    res: dict = {"notes": n, "max_length": MAX_LENGTH, "torch_threads": torch.get_num_threads()}
    rss0 = rss_mb()
    clf = load_classifier(base_model_path("default"), device="cpu", labels=list(CLASSES))
    tok, vocab = clf.tokenizer, int(clf.embedding.weight.shape[0])
    fc = clf.labels.index(SENSITIVE_CLASS)
    res["rss_after_model_mb"] = rss_mb()
    res["rss_before_model_mb"] = rss0

    # ---- one streaming pass over all n notes: tokenise, count, keep only small fixed-size parts
    df_all = np.zeros(vocab, dtype=np.int64)
    forget_parts, reservoir, res_labels, sample_texts, sample_enc = [], [], [], [], []
    kept_forget = 0
    pick = set(rng.choice(n, size=min(sample, n), replace=False).tolist())
    tokens = truncated = 0
    t_tok = t_count = t_gen = 0.0
    seen = 0
    with RssSampler() as stream_rss:
        for rows in note_chunks(n):
            t0 = time.perf_counter()
            texts = [r["text"] for r in rows]
            labels = [r["label"] for r in rows]
            t_gen += time.perf_counter() - t0
            t0 = time.perf_counter()
            enc = Encoded.concat(list(iter_encode(tok, texts, MAX_LENGTH, batch=1000)))
            t_tok += time.perf_counter() - t0
            t0 = time.perf_counter()
            counts, _ = document_frequency(enc, vocab)
            df_all += counts
            t_count += time.perf_counter() - t0
            tokens += len(enc.flat)
            truncated += enc.truncated
            lab = np.array([clf.labels.index(y) for y in labels])
            want = np.flatnonzero(lab == fc)[: max(0, forget_n - kept_forget)]
            if len(want):
                forget_parts.append(enc.subset(want))
                kept_forget += len(want)
            others = np.flatnonzero(lab != fc)
            room = 2000 - sum(len(r) for r in reservoir)
            if room > 0:
                take = others[:room]
                reservoir.append(enc.subset(take))
                res_labels.extend(lab[take].tolist())
            local = [j for j in range(len(rows)) if seen + j in pick]
            if local:
                sample_texts.extend(texts[j] for j in local)
                sample_enc.append(enc.subset(local))
            seen += len(rows)
            del enc, texts, labels, rows
    res.update(tokens=tokens, truncated=truncated, generate_s=t_gen, tokenize_s=t_tok, pmi_count_s=t_count,
               tokenize_notes_per_s=n / t_tok, pmi_count_notes_per_s=n / t_count,
               stream_peak_rss_mb=stream_rss.peak, compact_ids_mb_if_kept=(tokens * 4 + 8 * (n + 1)) / 2 ** 20)

    forget = Encoded.concat(forget_parts, MAX_LENGTH)
    retain = Encoded.concat(reservoir, MAX_LENGTH)
    sample_e = Encoded.concat(sample_enc, MAX_LENGTH)

    # ---- scoring throughput on the sample: steu_core vs the naive pipeline, same notes
    with RssSampler() as score_rss:
        compute_logits(clf, sample_e.subset(range(min(8, len(sample_e)))), 64)  # warm-up
        t0 = time.perf_counter()
        ours = compute_logits(clf, sample_e, 64)
        ours_s = time.perf_counter() - t0
    # the same, with bf16 autocast (--precision bf16) where this CPU computes bf16 natively
    from steu_core.accel import cpu_has_native_bf16

    if cpu_has_native_bf16():
        clf.precision = "bf16"
        compute_logits(clf, sample_e.subset(range(min(8, len(sample_e)))), 64)  # warm-up
        t0 = time.perf_counter()
        ours_bf16 = compute_logits(clf, sample_e, 64)
        bf16_s = time.perf_counter() - t0
        clf.precision = "auto"
        res.update(bf16_score_notes_per_s=len(sample_e) / bf16_s,
                   bf16_label_agreement=float((ours_bf16.argmax(-1) == ours.argmax(-1)).float().mean()),
                   bf16_max_abs_logit_diff=float((ours_bf16 - ours).abs().max()))
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    pipe = pipeline("text-classification", model=clf.model, tokenizer=tok, device=torch.device("cpu"))
    naive_texts = sample_texts[:pipeline_sample]
    pipe(naive_texts[0], truncation=True, max_length=MAX_LENGTH)  # warm-up
    with RssSampler() as naive_rss:
        t0 = time.perf_counter()
        naive = [pipe(t, truncation=True, max_length=MAX_LENGTH) for t in naive_texts]
        naive_s = time.perf_counter() - t0
    # the pipeline's top label must be ours (same model, same truncation)
    order = {t: i for i, t in enumerate(sample_texts)}
    agree = np.mean([clf.model.config.label2id[p[0]["label"]] == int(ours[order[t]].argmax())
                     for t, p in zip(naive_texts, naive)])
    res.update(score_sample=len(sample_e), score_s=ours_s, score_notes_per_s=len(sample_e) / ours_s,
               naive_sample=len(naive_texts), naive_s=naive_s, naive_notes_per_s=len(naive_texts) / naive_s,
               score_vs_naive=(len(sample_e) / ours_s) / (len(naive_texts) / naive_s),
               bf16_vs_naive=(res["bf16_score_notes_per_s"] / (len(naive_texts) / naive_s)
                              if "bf16_score_notes_per_s" in res else None),
               naive_label_agreement=float(agree), score_peak_rss_mb=score_rss.peak,
               naive_peak_rss_mb=naive_rss.peak,
               projected_full_score_s=n / (len(sample_e) / ours_s),
               projected_full_naive_s=n / (len(naive_texts) / naive_s))
    del pipe

    # ---- STEU: selection over the full counts, cache + steps on the fixed forget set
    k = k_from_budget(clf.params_total, clf.head_params_total, clf.hidden_size, DEFAULT_BUDGET)
    df_f, n_f = document_frequency(forget, vocab)
    counted = {"forget": (df_f, n_f), "retain": (df_all - df_f, n - n_f)}
    t0 = time.perf_counter()
    selected = select_tokens(["forget"], ["retain"], tok, k, min_df=2, vocab_size=vocab,
                             count=lambda which, _v: counted[which[0]])
    select_s = time.perf_counter() - t0
    cfg = SteuConfig(k=k, max_steps=steps, min_steps=steps + 1, batch_size=16, retain_pool=256)
    ctx = UnlearnContext(original=clf, forget=forget, retain=retain,
                         retain_labels=torch.as_tensor(res_labels), forget_class_id=fc, seed=0)
    with RssSampler() as steu_rss:
        t0 = time.perf_counter()
        _, log = run_sparse_unlearning(ctx, cfg, selected)
        steu_s = time.perf_counter() - t0
    step_s = steu_s - log["cache_seconds"]
    res.update(k=k, forget_notes=len(forget), retain_pool=log["retain_pool"], steps=log["steps"],
               select_s=select_s, steu_cache_s=log["cache_seconds"], steu_steps_s=step_s,
               steu_total_s=steu_s, steu_step_notes_per_s=log["steps"] * 32 / step_s,
               forget_touched=log["forget_touched"], retain_pool_touched=log["retain_pool_touched"],
               steu_peak_rss_mb=steu_rss.peak, top_tokens=[t.token for t in selected[:8]])
    res["peak_rss_mb"] = peak_rss_mb()
    return res


def ids_memory() -> dict:
    from generate import generate_notes

    from steu_core.model import load_classifier
    from steu_core.train import base_model_path

    clf = load_classifier(base_model_path("default"), device="cpu", labels=[str(i) for i in range(6)])
    return list_vs_compact_bytes(clf.tokenizer, [r["text"] for r in generate_notes(500, 3)])


def table(rows: list[dict], mem: dict) -> str:
    out = ["| notes | tokenise notes/s | PMI count notes/s | scoring notes/s fp32 (sample) | naive pipeline notes/s "
           "| fp32 ratio | scoring notes/s bf16 | bf16 ratio | full scoring fp32, projected | STEU cache s "
           "| STEU steps notes/s | STEU total s | peak RSS MB |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        bf16 = (f"{r['bf16_score_notes_per_s']:.1f} | {r['bf16_vs_naive']:.2f}x" if r.get("bf16_vs_naive")
                else "n/a (no native bf16) | n/a")
        out.append(f"| {r['notes']:,} | {r['tokenize_notes_per_s']:,.0f} | {r['pmi_count_notes_per_s']:,.0f} | "
                   f"{r['score_notes_per_s']:.1f} ({r['score_sample']}) | {r['naive_notes_per_s']:.1f} "
                   f"({r['naive_sample']}) | {r['score_vs_naive']:.2f}x | {bf16} | "
                   f"{r['projected_full_score_s'] / 60:,.1f} min | "
                   f"{r['steu_cache_s']:.1f} | {r['steu_step_notes_per_s']:.1f} | {r['steu_total_s']:.1f} | "
                   f"{r['peak_rss_mb']:,.0f} |")
    out.append("")
    out.append(f"Token ids in memory: Python lists {mem['list_bytes_per_token']:.1f} bytes/token, compact int32 "
               f"{mem['compact_bytes_per_token']:.2f} bytes/token ({mem['list_bytes_per_token'] / mem['compact_bytes_per_token']:.1f}x less; "
               f"measured on {mem['tokens']:,} tokens of 3,000 notes).")
    for r in rows:
        out.append(f"- {r['notes']:,} notes: {r['tokens']:,} tokens ({r['truncated']:,} notes cut at {MAX_LENGTH}); "
                   f"all ids kept compactly would take {r['compact_ids_mb_if_kept']:.0f} MB "
                   f"(as lists ~{r['tokens'] * mem['list_bytes_per_token'] / 2 ** 20:,.0f} MB); phase peaks: stream "
                   f"{r['stream_peak_rss_mb']:.0f} MB, scoring {r['score_peak_rss_mb']:.0f} MB, STEU "
                   f"{r['steu_peak_rss_mb']:.0f} MB; pipeline labels agree {100 * r['naive_label_agreement']:.0f} %; "
                   + (f"bf16 labels agree with fp32 {100 * r['bf16_label_agreement']:.1f} % (largest logit "
                      f"difference {r['bf16_max_abs_logit_diff']:.4f}); " if r.get("bf16_vs_naive") else "") +
                   f"top PMI tokens {', '.join(r['top_tokens'][:5])}")
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        out.append(f"Peak memory {a['notes']:,} -> {b['notes']:,} notes: {a['peak_rss_mb']:.0f} -> {b['peak_rss_mb']:.0f} MB "
                   f"({100 * (b['peak_rss_mb'] / a['peak_rss_mb'] - 1):+.1f} %).")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--sample", type=int, default=128, help="notes scored by steu_core for throughput")
    p.add_argument("--pipeline-sample", type=int, default=None, help="of those, notes scored by the pipeline (default all)")
    p.add_argument("--forget", type=int, default=64, help="forget-set notes for the STEU measurement")
    p.add_argument("--steps", type=int, default=4, help="STEU optimisation steps timed")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    pipeline_sample = args.pipeline_sample or args.sample
    if args.one:
        print(json.dumps(one_size(args.one, args.sample, args.forget, args.steps, pipeline_sample)))
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for n in sizes:
        print(f"[{n:,} notes] running in a fresh process ...", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--sample", str(args.sample),
                               "--pipeline-sample", str(pipeline_sample), "--forget", str(args.forget),
                               "--steps", str(args.steps)], capture_output=True, text=True, cwd=ROOT,
                              env=dict(os.environ, TOKENIZERS_PARALLELISM="false"))
        if proc.returncode != 0:
            print(proc.stderr[-4000:], file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        rows[-1]["process_s"] = time.perf_counter() - t0
        print(f"  done in {rows[-1]['process_s']:.0f} s", flush=True)
    mem = ids_memory()
    text = table(rows, mem)
    print()
    print(text)
    (OUT / "scale.json").write_text(json.dumps({"rows": rows, "ids_memory": mem}, indent=2))
    (OUT / "scale.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
