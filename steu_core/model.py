"""Classifier: a local Hugging Face sequence-classification checkpoint, loaded offline.

Works for any BERT-family architecture through the generic parts of transformers: the input
word-embedding matrix is ``model.get_input_embeddings()``, the base model is
``getattr(model, model.base_model_prefix)``, and the classification head is every parameter outside
the base model. Nothing assumes MiniLM's sizes or module names.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence as _SequenceABC
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .errors import ConfigError, ModelError

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` = CUDA, else MPS, else CPU. Asking for a device that is not there is an error."""
    device = (device or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("CUDA was requested but no CUDA GPU is available on this machine.",
                              hint="Use --device auto or --device cpu.")
        return torch.device(device)
    if device == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise ConfigError("MPS was requested but is not available.", hint="Use --device auto or --device cpu.")
        return torch.device("mps")
    if device == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"unknown device '{device}'", hint="Use auto, cpu, cuda or mps.")


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_directory(path: str | Path) -> dict:
    """SHA-256 of every file under ``path`` and one digest over all of them (name-ordered)."""
    path = Path(path)
    files = {str(p.relative_to(path)): file_sha256(p) for p in sorted(path.rglob("*")) if p.is_file()}
    total = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(files.items())).encode()).hexdigest()
    return {"sha256": total, "files": files}


# ---------------------------------------------------------------------------------------------
# Head adapters: split a classifier into "features" (the input to the head; a function of the frozen
# encoder) and "head" (the small trainable part). Used for the exact feature cache. Each adapter is
# checked against the model's own forward on load; a model without a working adapter still works,
# without the cache.


class HeadAdapter:
    name = "generic"

    def features(self, model, input_ids, attention_mask) -> torch.Tensor:
        raise NotImplementedError

    def logits(self, model, feats: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class PooledLinearHead(HeadAdapter):
    """BERT-style: pooler output -> dropout -> classifier."""

    name = "pooled-linear"

    def features(self, model, input_ids, attention_mask):
        out = getattr(model, model.base_model_prefix)(input_ids=input_ids, attention_mask=attention_mask)
        return out.pooler_output

    def logits(self, model, feats):
        return model.classifier(model.dropout(feats))


class DistilBertHead(HeadAdapter):
    """DistilBERT: first-token hidden state -> pre_classifier -> ReLU -> dropout -> classifier."""

    name = "distilbert"

    def features(self, model, input_ids, attention_mask):
        out = getattr(model, model.base_model_prefix)(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state[:, 0]

    def logits(self, model, feats):
        return model.classifier(model.dropout(torch.relu(model.pre_classifier(feats))))


class FirstTokenHead(HeadAdapter):
    """RoBERTa-style: the head module takes the sequence output and reads its first token."""

    name = "first-token"

    def features(self, model, input_ids, attention_mask):
        out = getattr(model, model.base_model_prefix)(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state[:, 0]

    def logits(self, model, feats):
        return model.classifier(feats.unsqueeze(1))


def _candidate_adapters(model) -> list[HeadAdapter]:
    out: list[HeadAdapter] = []
    if hasattr(model, "pre_classifier") and hasattr(model, "classifier") and hasattr(model, "dropout"):
        out.append(DistilBertHead())
    if isinstance(getattr(model, "classifier", None), nn.Linear) and hasattr(model, "dropout"):
        out.append(PooledLinearHead())
    if isinstance(getattr(model, "classifier", None), nn.Module):
        out.append(FirstTokenHead())
    return out


def find_head_adapter(model, tokenizer) -> HeadAdapter | None:
    """The adapter whose features+head reproduce the model's logits exactly, or None."""
    was_training = model.training
    model.eval()
    try:
        enc = tokenizer(["the patient denies chest pain", "shortness of breath for three days"],
                        padding=True, return_tensors="pt")
        device = next(model.parameters()).device
        ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        with torch.inference_mode():
            ref = model(input_ids=ids, attention_mask=mask).logits
            for adapter in _candidate_adapters(model):
                try:
                    got = adapter.logits(model, adapter.features(model, ids, mask))
                except Exception:
                    continue
                if got.shape == ref.shape and torch.allclose(got, ref, atol=1e-5, rtol=1e-4):
                    return adapter
    finally:
        model.train(was_training)
    return None


# ---------------------------------------------------------------------------------------------


@dataclass
class Classifier:
    """A loaded classifier with its tokenizer, label names and where it came from."""

    model: nn.Module
    tokenizer: object
    path: Path
    labels: list[str]
    device: torch.device
    source: str = ""
    adapter: HeadAdapter | None = None
    precision: str = "auto"  # autocast on CUDA: auto, fp32, bf16, fp16 (steu_core.accel)

    @property
    def model_type(self) -> str:
        return str(self.model.config.model_type)

    @property
    def architecture(self) -> str:
        return type(self.model).__name__

    @property
    def params_total(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def hidden_size(self) -> int:
        return int(self.embedding.weight.shape[1])

    @property
    def embedding(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    @property
    def embedding_param_name(self) -> str:
        target = self.embedding.weight
        for name, p in self.model.named_parameters():
            if p is target:
                return name
        raise ModelError("cannot find the input embedding matrix among the model's parameters")

    @property
    def head_param_names(self) -> list[str]:
        prefix = self.model.base_model_prefix + "."
        return [n for n, _ in self.model.named_parameters() if not n.startswith(prefix)]

    @property
    def head_params_total(self) -> int:
        params = dict(self.model.named_parameters())
        return sum(params[n].numel() for n in self.head_param_names)

    def label_id(self, label: str | int) -> int:
        """A label given by name, or by its numeric id when no label has that name."""
        key = str(label).strip()
        if key in self.labels:
            return self.labels.index(key)
        if key.lstrip("-").isdigit() and 0 <= int(key) < len(self.labels):
            return int(key)
        raise ConfigError(f"'{key}' is not a label of this model",
                          hint=f"Labels: {', '.join(self.labels)} (or their ids 0..{len(self.labels) - 1}).")

    def info(self) -> dict:
        return {"architecture": self.architecture, "model_type": self.model_type, "labels": self.labels,
                "params_total": self.params_total, "hidden_size": self.hidden_size,
                "vocab_size": int(self.embedding.weight.shape[0]), "source": self.source,
                "device": device_description(self.device)}

    def copy(self) -> "Classifier":
        """An independent copy of the weights (the original object is never edited by a method)."""
        import copy

        return Classifier(model=copy.deepcopy(self.model), tokenizer=self.tokenizer, path=self.path,
                          labels=list(self.labels), device=self.device, source=self.source, adapter=self.adapter,
                          precision=self.precision)


def check_model_dir(path: Path, allow_pickle: bool = False) -> None:
    """Refuse a directory that is not a complete, safe checkpoint, saying what is missing."""
    if not path.exists():
        raise ModelError(f"model directory '{path}' does not exist.", hint="Check the path.")
    if not path.is_dir():
        raise ModelError(f"'{path}' is a file, not a model directory.",
                         hint="Give the directory that holds config.json and model.safetensors.")
    if not (path / "config.json").is_file():
        raise ModelError(f"'{path}' has no config.json: it is not a Hugging Face checkpoint directory.",
                         hint="Save the model with save_pretrained() or point at the directory that holds config.json.")
    has_safe = any((path / f).is_file() for f in WEIGHT_FILES)
    has_pickle = any((path / f).is_file() for f in PICKLE_FILES)
    if not has_safe and not has_pickle:
        raise ModelError(f"'{path}' has no weights (model.safetensors).",
                         hint="Save the model with save_pretrained(safe_serialization=True).")
    if not has_safe and has_pickle and not allow_pickle:
        raise ModelError(f"'{path}' holds only pickle weights (pytorch_model.bin); loading them can run "
                         "arbitrary code, so they are refused.",
                         hint="Convert the checkpoint to safetensors, or pass --allow-pickle if you trust its source.")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise ModelError(f"'{path}' has no tokenizer files (tokenizer.json or vocab.txt).",
                         hint="Save the tokenizer next to the model with tokenizer.save_pretrained().")


def load_classifier(path: str | Path, device: str | torch.device = "auto", *, num_labels: int | None = None,
                    labels: Sequence[str] | None = None, allow_pickle: bool = False,
                    require_head: bool = True) -> Classifier:
    """Load a local checkpoint directory offline (``demo.resolve_model_path`` turns ``"default"`` into one).

    With ``labels`` a base (headless) checkpoint is loaded with a fresh head for training.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = Path(path).expanduser()
    check_model_dir(path, allow_pickle=allow_pickle)
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    kwargs = {}
    if labels is not None:
        kwargs = {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                  "label2id": {l: i for i, l in enumerate(labels)}}
    elif num_labels is not None:
        kwargs = {"num_labels": num_labels}
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True, **kwargs)
    except Exception as exc:
        raise ModelError(f"config.json in '{path}' cannot be read ({type(exc).__name__}: {str(exc)[:200]})",
                         hint="Check that the file is a valid transformers config.") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except Exception as exc:
        raise ModelError(f"the tokenizer in '{path}' cannot be loaded ({type(exc).__name__}: {str(exc)[:200]})",
                         hint="Save the tokenizer with tokenizer.save_pretrained() into the model directory.") from None
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            path, config=config, local_files_only=True, use_safetensors=not allow_pickle or None,
            output_loading_info=True)
    except ValueError as exc:
        raise ModelError(f"'{path}' cannot be loaded as a sequence classifier ({str(exc)[:300]})",
                         hint="Use a BERT-family checkpoint (BERT, DistilBERT, RoBERTa ...).") from None
    except Exception as exc:
        raise ModelError(f"the weights in '{path}' cannot be read ({type(exc).__name__}: {str(exc)[:200]}); "
                         "the file may be corrupted or truncated.",
                         hint="Restore the checkpoint from a backup, or save it again.") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    model.to(dev).eval()
    clf = Classifier(model=model, tokenizer=tokenizer, path=path,
                     labels=[str(model.config.id2label[i]) for i in range(model.config.num_labels)],
                     device=dev, source=str(path))
    missing_head = [k for k in info.get("missing_keys", []) if k in set(clf.head_param_names)]
    if require_head and labels is None and missing_head:
        raise ModelError(f"'{path}' has no trained classification head (missing {', '.join(sorted(missing_head)[:4])}).",
                         hint="Fine-tune it first: python -m steu_core train --base DIR --train FILE --out NEWDIR.")
    vocab_rows = int(clf.embedding.weight.shape[0])
    if len(tokenizer) > vocab_rows:
        raise ModelError(f"the tokenizer has {len(tokenizer)} tokens but the model's embedding matrix has only "
                         f"{vocab_rows} rows: tokenizer and model do not belong together.",
                         hint="Use the tokenizer saved with this model.")
    clf.adapter = find_head_adapter(model, tokenizer)
    return clf


def save_model_atomically(clf: Classifier, out_dir: str | Path) -> Path:
    """Write the model and tokenizer to a temporary sibling directory, then rename it into place."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise ConfigError(f"output directory '{out_dir}' already exists.",
                          hint="Choose a new directory; existing models are never overwritten.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        write_model(clf, tmp)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def write_model(clf: Classifier, directory: Path) -> None:
    clf.model.save_pretrained(directory, safe_serialization=True)
    clf.tokenizer.save_pretrained(directory)
    for f in directory.iterdir():
        if f.is_file():
            _fsync(f)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default))
    os.replace(tmp, path)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# ---------------------------------------------------------------------------------------------
# Tokenised corpora, dynamic padding and batched scoring
#
# Token ids are stored compactly: one int32 array holding every note's ids back to back, and n+1
# offsets (note i is flat[offsets[i]:offsets[i+1]]). That is 4 bytes a token; Python lists of ints
# took about 9 times as much (bench/scale.py measures both). Tokenisation streams through the notes
# in batches, so only one batch of Python lists exists at a time.


class TokenIds(_SequenceABC):
    """Read-only sequence view of an :class:`Encoded`: ``ids[i]`` is note i's int32 id array (no copy)."""

    __slots__ = ("flat", "offsets")

    def __init__(self, flat: np.ndarray, offsets: np.ndarray):
        self.flat, self.offsets = flat, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.flat[self.offsets[i]:self.offsets[i + 1]]

    def __iter__(self):
        flat, off = self.flat, self.offsets
        for a, b in zip(off[:-1].tolist(), off[1:].tolist()):
            yield flat[a:b]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def _gather_positions(offsets: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``flat`` of the notes ``idx`` (concatenated), and their lengths."""
    starts = offsets[idx]
    lens = offsets[idx + 1] - starts
    total = int(lens.sum())
    new_starts = np.cumsum(lens) - lens
    pos = np.arange(total, dtype=np.int64) - np.repeat(new_starts - starts, lens)
    return pos, lens


class Encoded:
    """Token ids of a set of notes (no padding), with how many were truncated.

    ``Encoded(list_of_id_lists, truncated, max_length)`` still works; internally the ids are one
    int32 array plus offsets (see the comment above). ``ids`` is a sequence view of the notes.
    """

    __slots__ = ("flat", "offsets", "truncated", "max_length")

    def __init__(self, ids: Sequence[Sequence[int]] | None = None, truncated: int = 0, max_length: int = 0, *,
                 flat: np.ndarray | None = None, offsets: np.ndarray | None = None):
        if flat is None:
            ids = list(ids or [])
            lens = np.fromiter((len(s) for s in ids), dtype=np.int64, count=len(ids))
            flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int32, count=int(lens.sum()))
            offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        self.flat = np.ascontiguousarray(flat, dtype=np.int32)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.truncated, self.max_length = int(truncated), int(max_length)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __repr__(self) -> str:
        return f"Encoded({len(self)} notes, {len(self.flat)} tokens, truncated={self.truncated})"

    @property
    def ids(self) -> TokenIds:
        return TokenIds(self.flat, self.offsets)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def nbytes(self) -> int:
        return int(self.flat.nbytes + self.offsets.nbytes)

    def subset(self, idx: Sequence[int]) -> "Encoded":
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        pos, lens = _gather_positions(self.offsets, idx)
        return Encoded(flat=self.flat[pos], offsets=np.concatenate([[0], np.cumsum(lens)]),
                       truncated=int((lens >= self.max_length).sum()) if self.max_length else 0,
                       max_length=self.max_length)

    def pad(self, idx: Sequence[int], pad_id: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """Notes ``idx`` as a padded (ids, attention mask) pair as wide as the longest of them."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        pos, lens = _gather_positions(self.offsets, idx)
        width = int(lens.max()) if len(lens) else 0
        mask = np.arange(width)[None, :] < lens[:, None]
        ids = np.full((len(idx), width), pad_id, dtype=np.int64)
        ids[mask] = self.flat[pos]  # row-major order of the mask = the notes' ids in order
        return _to_device(torch.from_numpy(ids), device), _to_device(torch.from_numpy(mask.astype(np.int64)), device)

    @classmethod
    def concat(cls, parts: Sequence["Encoded"], max_length: int | None = None) -> "Encoded":
        parts = list(parts)
        if not parts:
            return cls(flat=np.zeros(0, np.int32), offsets=np.zeros(1, np.int64), max_length=max_length or 0)
        flat = np.concatenate([p.flat for p in parts])
        lens = np.concatenate([np.diff(p.offsets) for p in parts])
        return cls(flat=flat, offsets=np.concatenate([[0], np.cumsum(lens)]),
                   truncated=sum(p.truncated for p in parts),
                   max_length=max_length if max_length is not None else parts[0].max_length)


def _to_device(t: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    device = torch.device(device)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def iter_encode(tokenizer, texts: Iterable[str], max_length: int, batch: int = 1024) -> Iterator[Encoded]:
    """Tokenise ``texts`` (any iterable, e.g. a file read in chunks) ``batch`` notes at a time.

    Notes longer than ``max_length`` tokens are cut to ``max_length``, keeping the closing special
    token; each chunk counts how many were cut.
    """
    it = iter(texts)
    while True:
        chunk = list(itertools.islice(it, batch))
        if not chunk:
            return
        full = tokenizer(chunk, add_special_tokens=True, truncation=False, return_attention_mask=False,
                         verbose=False)["input_ids"]
        truncated = 0
        for j, seq in enumerate(full):
            if len(seq) > max_length:
                truncated += 1
                full[j] = seq[:max_length - 1] + [seq[-1]]  # keep the closing special token
        lens = np.fromiter((len(s) for s in full), dtype=np.int64, count=len(full))
        flat = np.fromiter(itertools.chain.from_iterable(full), dtype=np.int32, count=int(lens.sum()))
        yield Encoded(flat=flat, offsets=np.concatenate([[0], np.cumsum(lens)]), truncated=truncated,
                      max_length=max_length)


def encode(tokenizer, texts: Iterable[str], max_length: int, batch: int = 1024) -> Encoded:
    """Tokenise every note (streamed in batches of ``batch``) into one compact :class:`Encoded`."""
    return Encoded.concat(iter_encode(tokenizer, texts, max_length, batch), max_length=max_length)


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    width = int(lens.max()) if len(lens) else 0
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
    mask = (np.arange(width)[None, :] < lens[:, None]).astype(np.int64)
    return _to_device(torch.from_numpy(ids), device), _to_device(torch.from_numpy(mask), device)


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length (less padding), in a fixed order."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size].tolist()


def length_order(enc: Encoded) -> np.ndarray:
    """Note indices sorted by length (stable): consecutive slices are length-bucketed batches."""
    return np.argsort(enc.lengths, kind="stable")


def pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def compute_features(clf: Classifier, enc: Encoded, batch_size: int = 64,
                     progress: Callable[[int, int], None] | None = None) -> torch.Tensor | None:
    """Head inputs for every example (None when the model has no exact head adapter).

    Length-bucketed batches with dynamic padding; autocast on CUDA where safe; a batch that runs out
    of memory is retried at half the size. The N x d float32 result (150 MB for 100k notes at d=384)
    stays on the accelerator when it takes at most a quarter of its free memory, else in host memory.
    """
    if clf.adapter is None:
        return None
    from .accel import cache_device, inference, map_batches

    clf.model.eval()
    n = len(enc)
    out: torch.Tensor | None = None
    done = 0

    def run(idx: np.ndarray) -> None:
        nonlocal done, out
        ids, mask = enc.pad(idx, pad_id(clf.tokenizer), clf.device)
        with inference(clf.device, clf.precision):
            feats = clf.adapter.features(clf.model, ids, mask).float()
        if out is None:
            shape = (n, *feats.shape[1:])
            out = torch.empty(shape, dtype=torch.float32, device=cache_device(clf.device, 4 * math.prod(shape)))
        out[torch.as_tensor(idx, device=out.device)] = feats.to(out.device)
        done += len(idx)
        if progress:
            progress(done, n)

    map_batches(length_order(enc), batch_size, run, device=clf.device, what="scoring")
    if out is None:  # no notes
        out = torch.empty((0, clf.hidden_size), dtype=torch.float32, device=clf.device)
    return out


@torch.inference_mode()
def head_logits(clf: Classifier, feats: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """The head applied to cached head inputs (in fp32, in chunks, wherever the cache lives)."""
    parts = [clf.adapter.logits(clf.model, feats[s:s + chunk].to(clf.device)).float().cpu()
             for s in range(0, len(feats), chunk)]
    return torch.cat(parts) if parts else torch.empty((0, len(clf.labels)), dtype=torch.float32)


def compute_logits(clf: Classifier, enc: Encoded, batch_size: int = 64, feats: torch.Tensor | None = None,
                   recompute: Sequence[int] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Logits for every example (an N x C float32 tensor in host memory).

    With cached ``feats`` (from the unedited encoder) only the examples in ``recompute`` get a new
    encoder pass; the rest go through the (possibly new) head alone. This is exact when only the
    embedding rows of tokens absent from those examples, and the head, changed.
    """
    from .accel import inference, map_batches

    clf.model.eval()
    n = len(enc)
    if feats is not None and clf.adapter is not None:
        todo = list(recompute) if recompute is not None else []
        if todo:
            feats = feats.clone()
            new = compute_features(clf, enc.subset(todo), batch_size, progress)
            feats[torch.as_tensor(todo, device=feats.device)] = new.to(feats.device)
        return head_logits(clf, feats)
    logits = torch.empty((n, len(clf.labels)), dtype=torch.float32)
    done = 0

    def run(idx: np.ndarray) -> None:
        nonlocal done
        ids, mask = enc.pad(idx, pad_id(clf.tokenizer), clf.device)
        with inference(clf.device, clf.precision):
            logits[torch.as_tensor(idx)] = clf.model(input_ids=ids, attention_mask=mask).logits.float().cpu()
        done += len(idx)
        if progress:
            progress(done, n)

    map_batches(length_order(enc), batch_size, run, device=clf.device, what="scoring")
    return logits


class RowOverride:
    """Replace chosen rows of the input embedding by a separate trainable k x d tensor.

    A forward hook on the embedding module swaps in the trainable rows wherever a selected token
    occurs, so gradients reach only those k rows; the embedding matrix itself is never touched and
    no optimizer state or weight decay can reach the other rows (the form peft's TrainableTokens uses).
    """

    def __init__(self, embedding: nn.Embedding, row_ids: Sequence[int], rows: torch.Tensor):
        self.embedding = embedding
        self.rows = rows
        vocab = embedding.weight.shape[0]
        self.lookup = torch.full((vocab,), -1, dtype=torch.long, device=embedding.weight.device)
        self.lookup[torch.as_tensor(list(row_ids), dtype=torch.long, device=embedding.weight.device)] = \
            torch.arange(len(row_ids), device=embedding.weight.device)
        self._handle = None

    def _hook(self, module, inputs, output):
        slot = self.lookup[inputs[0]]
        hit = slot >= 0
        if not bool(hit.any()):
            return output
        replaced = self.rows[slot.clamp(min=0)].to(output.dtype)
        return torch.where(hit.unsqueeze(-1), replaced, output)

    def __enter__(self):
        self._handle = self.embedding.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc):
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Every parameter frozen inside the block; the previous flags restored after."""
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for n, p in model.named_parameters():
            p.requires_grad_(flags[n])


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
