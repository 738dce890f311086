"""One short check for a GPU machine: a BERT-base-sized classifier (random weights, 110 M parameters),
512-token notes, 20,000 synthetic notes; prints scoring throughput, STEU time and GPU memory.

    python bench/gpu_check.py            # on a CUDA machine (about 3-5 minutes on one H100)
    python bench/gpu_check.py --small    # a tiny model on the CPU, in seconds: checks the script runs

Self-contained: the notes come from data_samples/generate.py, the WordPiece tokenizer is trained on
them here (nothing is downloaded), the model is a freshly initialised BertForSequenceClassification
of BERT-base size (hidden 768, 12 layers, vocabulary 30,522). Random weights are fine for timing.
What it runs, all through steu_core:
  1. out-of-memory probe: head inputs of all 20,000 notes asked for in ONE batch (about 60 GB of
     activations in one layer); the batch size must be halved automatically until it fits (the log
     shows each halving);
  2. scoring throughput: compute_logits over all notes (length-bucketed batches, bf16 autocast),
     and over 2,000 of them in fp32 for comparison;
  3. a full STEU run (run_unlearning: tokenise, score, PMI select, unlearn, audit, write the run
     directory), forget class = one of 6 classes (about 2,800 training notes), 30 steps.
GPU memory: peak allocated by PyTorch per phase (torch.cuda.max_memory_allocated).
Outputs: stdout and bench/out/gpu_check.json (or $OUT/gpu_check.json when OUT is set).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "data_samples"))


def build_model(directory: Path, texts: list[str], labels: list[str], small: bool) -> Path:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=8000 if small else 30522,
                                                             special_tokens=specials, show_progress=False))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                       special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=512)
    common = dict(num_labels=len(labels), id2label=dict(enumerate(labels)),
                  label2id={y: i for i, y in enumerate(labels)}, pad_token_id=fast.pad_token_id)
    if small:
        cfg = BertConfig(vocab_size=8000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=128, max_position_embeddings=512, **common)
    else:  # bert-base-uncased's shape
        cfg = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072, max_position_embeddings=512, **common)
    torch.manual_seed(0)
    model = BertForSequenceClassification(cfg).eval()
    model.save_pretrained(directory, safe_serialization=True)
    fast.save_pretrained(directory)
    return directory


def gpu_mem(torch, device) -> dict:
    if device.type != "cuda":
        return {}
    return {"peak_allocated_gib": torch.cuda.max_memory_allocated(device) / 2 ** 30,
            "peak_reserved_gib": torch.cuda.max_memory_reserved(device) / 2 ** 30}


def reset_peak(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> int:
    p = argparse.ArgumentParser(description="STEU Audit on a GPU: BERT-base size, 512 tokens, 20k notes.")
    p.add_argument("--small", action="store_true", help="tiny model, 300 notes, 64 tokens, on the CPU")
    p.add_argument("--notes", type=int, default=None, help="corpus size (default 20000; 300 with --small)")
    p.add_argument("--device", default=None, help="default: cuda (cpu with --small)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="  [log] %(message)s")

    import numpy as np
    import torch
    from generate import CLASSES, SENSITIVE_CLASS, generate_notes

    from steu_core import accel
    from steu_core.data import write_notes, NoteSet
    from steu_core.model import compute_features, compute_logits, encode, load_classifier
    from steu_core.runs import UnlearnRequest, run_unlearning

    small = args.small
    n_notes = args.notes or (300 if small else 20000)
    max_length = 64 if small else 512
    device_name = args.device or ("cpu" if small else "cuda")
    out_dir = Path(os.environ.get("OUT") or ROOT / "bench" / "out")
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {"small": small, "notes": n_notes, "max_length": max_length, "torch": torch.__version__}
    if device_name.startswith("cuda"):
        if not torch.cuda.is_available():
            print("No CUDA GPU here: run with --small (CPU) or on a GPU machine.", file=sys.stderr)
            return 2
        report["gpu"] = torch.cuda.get_device_name(0)
        report["bf16_supported"] = torch.cuda.is_bf16_supported()
    print(json.dumps({k: report[k] for k in report}), flush=True)

    work = Path(tempfile.mkdtemp(prefix="steu_gpu_check_"))
    os.environ["STEU_HOME"] = str(work / "home")
    t0 = time.perf_counter()
    rows = generate_notes(-(-n_notes // len(CLASSES)), 11)[:n_notes]
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    model_dir = build_model(work / "model", texts[:3000], list(CLASSES), small)
    cut = int(0.85 * len(rows))
    write_notes(NoteSet(texts=tuple(texts[:cut]), labels=tuple(labels[:cut]), name="train.csv"), work / "train.csv")
    write_notes(NoteSet(texts=tuple(texts[cut:]), labels=tuple(labels[cut:]), name="eval.csv"), work / "eval.csv")
    report["prepare_s"] = time.perf_counter() - t0

    clf = load_classifier(model_dir, device=device_name)
    device = clf.device
    report["params_total"] = clf.params_total
    report["adapter"] = getattr(clf.adapter, "name", None)
    t0 = time.perf_counter()
    enc = encode(clf.tokenizer, texts, max_length)
    report["tokenize_notes_per_s"] = len(enc) / (time.perf_counter() - t0)
    report["mean_tokens"] = float(enc.lengths.mean())
    print(f"model: {clf.params_total / 1e6:.1f} M parameters on {device}; {len(enc):,} notes, "
          f"mean {enc.lengths.mean():.0f} tokens (max {max_length})", flush=True)

    # 1. out-of-memory probe: one huge batch must be halved until it fits
    probe_n = min(len(enc), 64) if small else len(enc)
    accel.forget_learned_batch_sizes()
    reset_peak(torch, device)
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda rec: records.append(rec.getMessage())
    logging.getLogger("steu_core").addHandler(handler)
    t0 = time.perf_counter()
    probe_error = None
    try:
        compute_features(clf, enc.subset(np.arange(probe_n)), batch_size=probe_n)
        sync(torch, device)
    except Exception as exc:  # noqa: BLE001 - reported, and the other checks still run
        probe_error = f"{type(exc).__name__}: {str(exc)[:300]}"
        print(f"1. OOM probe FAILED: {probe_error}", flush=True)
    logging.getLogger("steu_core").removeHandler(handler)
    report["oom_probe"] = {"asked_batch": probe_n, "halvings": len(records), "error": probe_error,
                           "batch_that_fitted": accel.start_batch_size(device, "scoring", probe_n),
                           "seconds": time.perf_counter() - t0, **gpu_mem(torch, device), "log": records[:12]}
    print(f"1. OOM probe: asked for {probe_n} notes in one batch, {len(records)} halving(s), fitted at "
          f"{report['oom_probe']['batch_that_fitted']}", flush=True)
    accel.forget_learned_batch_sizes()
    if device.type == "cuda":
        torch.cuda.empty_cache()

    # 2. scoring throughput, autocast (default) and fp32
    for precision, n, bs in (("auto", len(enc), 256), ("fp32", min(len(enc), 2000), 128)):
        clf.precision = precision
        sub = enc if n == len(enc) else enc.subset(np.arange(n))
        compute_logits(clf, sub.subset(np.arange(min(64, n))), bs)  # warm-up
        reset_peak(torch, device)
        t0 = time.perf_counter()
        logits = compute_logits(clf, sub, bs)
        sync(torch, device)
        dt = time.perf_counter() - t0
        dtype = accel.autocast_dtype(device, precision)
        report[f"score_{precision}"] = {"notes": n, "batch_size": bs, "seconds": dt, "notes_per_s": n / dt,
                                         "autocast": str(dtype) if dtype else "none", **gpu_mem(torch, device),
                                         "finite": bool(torch.isfinite(logits).all())}
        print(f"2. scoring ({precision}, autocast {dtype}): {n / dt:,.0f} notes/s over {n:,} notes "
              f"({dt:.1f} s); {gpu_mem(torch, device)}", flush=True)
    clf.precision = "auto"
    if "score_fp32" in report and "score_auto" in report:
        report["autocast_speedup"] = report["score_auto"]["notes_per_s"] / report["score_fp32"]["notes_per_s"]
    del clf
    if device.type == "cuda":
        torch.cuda.empty_cache()

    # 3. a full STEU run
    reset_peak(torch, device)
    t0 = time.perf_counter()
    out = run_unlearning(UnlearnRequest(
        model=str(model_dir), train=work / "train.csv", eval=work / "eval.csv", forget_class=SENSITIVE_CLASS,
        out=work / "run", device=device_name, max_length=max_length, batch_size=256 if not small else 64,
        settings={"max_steps": 5 if small else 30, "min_steps": 100}, record_ledger=False, max_file_mb=1000))
    sync(torch, device)
    total = time.perf_counter() - t0
    r = json.loads((out / "results.json").read_text())
    report["steu_run"] = {"seconds_total": total, "wall_seconds": r["wall_seconds"], "k": r["k"],
                          "steps": r["training"]["steps"], "forget_rows": r["data"]["forget"]["rows"],
                          "eval_rows": r["data"]["eval_rows"], "param_diff_verdict": r["param_diff_verdict"],
                          "cache_seconds": r["training"].get("cache_seconds"),
                          "forget_touched": r["training"].get("forget_touched"),
                          "device": r["device"], **gpu_mem(torch, device)}
    ws = r["wall_seconds"]
    print(f"3. STEU run: {total:.1f} s in all (score original {ws.get('score_original', 0):.1f} s, select "
          f"{ws['select']:.1f} s, unlearn {ws['unlearn']:.1f} s for {r['training']['steps']} steps of 16+16 notes, "
          f"audit {ws['audit']:.1f} s); k = {r['k']}; forget set {r['data']['forget']['rows']:,} notes; "
          f"param diff {r['param_diff_verdict']}; {gpu_mem(torch, device)}", flush=True)
    (out_dir / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {out_dir / 'gpu_check.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
