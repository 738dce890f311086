"""A small, reversible patch: the changed embedding rows (ids, old, new) and every other changed
tensor before and after, in one safetensors file. ``apply_patch`` turns the original weights into the
new ones and ``revert_patch`` the new into the original, both bit-identical."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save

FORMAT = "steu-patch/1"


def make_patch(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], embedding_key: str) -> dict:
    tensors: dict[str, torch.Tensor] = {}
    others = []
    for name in sorted(before):
        a, b = before[name], after[name]
        if torch.equal(a, b):
            continue
        if name == embedding_key:
            ids = torch.nonzero((a != b).any(dim=1)).flatten().to(torch.int64)
            tensors["row_ids"] = ids.contiguous()
            tensors["old_rows"] = a[ids].contiguous()
            tensors["new_rows"] = b[ids].contiguous()
        else:
            others.append(name)
            tensors[f"before.{name}"] = a.contiguous()
            tensors[f"after.{name}"] = b.contiguous()
    if "row_ids" not in tensors:
        width = before[embedding_key].shape[1]
        tensors["row_ids"] = torch.zeros(0, dtype=torch.int64)
        tensors["old_rows"] = torch.zeros((0, width), dtype=before[embedding_key].dtype)
        tensors["new_rows"] = torch.zeros((0, width), dtype=before[embedding_key].dtype)
    return {"tensors": tensors, "metadata": {"format": FORMAT, "embedding": embedding_key,
                                             "tensors": json.dumps(others)}}


def save_patch(patch: dict, path: str | Path) -> Path:
    Path(path).write_bytes(canonical_header(save(patch["tensors"], metadata=patch["metadata"])))
    return Path(path)


def canonical_header(data: bytes) -> bytes:
    """safetensors writes its JSON header in hash-map order, which changes from call to call, so the
    same patch would get a different SHA-256 each time. The header is re-written with sorted keys
    (space-padded to 8 bytes, as the format allows); the tensor bytes and their offsets are unchanged."""
    n = int.from_bytes(data[:8], "little")
    text = json.dumps(json.loads(data[8:8 + n]), sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + n:]


def load_patch(path: str | Path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a STEU patch (format {meta.get('format')!r})")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return {"tensors": tensors, "metadata": meta}


def _swap(state: dict[str, torch.Tensor], patch: dict, forward: bool) -> dict[str, torch.Tensor]:
    t, meta = patch["tensors"], patch["metadata"]
    src, dst = ("before", "after") if forward else ("after", "before")
    out = dict(state)
    emb = meta["embedding"]
    ids = t["row_ids"]
    expect, put = (t["old_rows"], t["new_rows"]) if forward else (t["new_rows"], t["old_rows"])
    if len(ids):
        if not torch.equal(state[emb][ids], expect):
            raise ValueError("the embedding rows do not match the patch: wrong model or already "
                             f"{'applied' if forward else 'reverted'}")
        w = state[emb].clone()
        w[ids] = put
        out[emb] = w
    for name in json.loads(meta["tensors"]):
        if not torch.equal(state[name], t[f"{src}.{name}"]):
            raise ValueError(f"tensor {name} does not match the patch: wrong model or already "
                             f"{'applied' if forward else 'reverted'}")
        out[name] = t[f"{dst}.{name}"].clone()
    return out


def apply_patch(state: dict[str, torch.Tensor], patch: dict) -> dict[str, torch.Tensor]:
    """Original weights -> new weights."""
    return _swap(state, patch, forward=True)


def revert_patch(state: dict[str, torch.Tensor], patch: dict) -> dict[str, torch.Tensor]:
    """New weights -> original weights."""
    return _swap(state, patch, forward=False)
