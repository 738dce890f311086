"""A small, reversible patch: the changed embedding rows (ids, old, new) and every other changed
tensor before and after, in one safetensors file. ``apply_patch`` turns the original weights into the
new ones and ``revert_patch`` the new into the original, both bit-identical. A patch that is damaged,
foreign or made for another model is a :class:`~steu_core.errors.PatchError` naming the file."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save

from .errors import PatchError
from .safety import check_readable, shown_value

FORMAT = "steu-patch/1"


def saved_embedding_key(state: dict, name: str) -> str:
    """The saved tensor name of the input embedding (checkpoints may add or drop a model prefix)."""
    return next(k for k in state if k == name or k.endswith("." + name) or name.endswith("." + k))


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
    """Read and check a patch file; a missing, special, damaged or foreign file is a PatchError."""
    path = Path(path)
    check_readable(path)  # a FIFO or device never reaches the reader; a missing file says so
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise PatchError(f"is not a STEU patch (its format is {shown_value(meta.get('format'))})",
                                 file=path.name, hint="Give the patch.safetensors of a STEU run directory.")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except PatchError:
        raise
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise PatchError(f"cannot be read as a safetensors patch ({type(exc).__name__})", file=path.name,
                         hint="The file is damaged or of another kind: use the patch.safetensors of a STEU "
                              "run directory.") from None
    patch = {"tensors": tensors, "metadata": meta, "name": path.name}
    _check_patch_shape(patch)
    return patch


def _other_tensors(patch: dict) -> list[str]:
    """The names of the patch's non-embedding tensors, from its metadata."""
    try:
        names = json.loads(patch["metadata"].get("tensors", "[]"))
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise PatchError("its metadata does not list the changed tensors", file=patch.get("name"),
                         hint="The patch is damaged: use the patch.safetensors of a STEU run directory.")
    return names


def _check_patch_shape(patch: dict) -> None:
    """The patch is complete and consistent in itself: rows, ids and every listed tensor's pair."""
    t, name = patch["tensors"], patch.get("name")
    missing = [k for k in ("row_ids", "old_rows", "new_rows") if k not in t]
    missing += [f"{side}.{n}" for n in _other_tensors(patch) for side in ("before", "after") if f"{side}.{n}" not in t]
    if missing or not isinstance(patch["metadata"].get("embedding"), str):
        what = ", ".join(missing[:4]) or "the embedding's name"
        raise PatchError(f"is incomplete: it has no {what}", file=name,
                         hint="The patch is damaged: use the patch.safetensors of a STEU run directory.")
    ids, old, new = t["row_ids"], t["old_rows"], t["new_rows"]
    if ids.dim() != 1 or ids.is_floating_point() or old.dim() != 2 or old.shape != new.shape \
            or old.shape[0] != ids.shape[0]:
        raise PatchError("its row ids and rows do not match each other", file=name,
                         hint="The patch is damaged: use the patch.safetensors of a STEU run directory.")


def _check_fits(state: dict[str, torch.Tensor], patch: dict, src: str) -> None:
    """Every tensor the patch names exists in ``state`` with the patch's shape, every row id is a row."""
    t, meta, name = patch["tensors"], patch["metadata"], patch.get("name")
    hint = "Apply a patch to the model its run started from (revert: to the model the run wrote)."
    emb = meta["embedding"]
    if emb not in state:
        raise PatchError(f"names the embedding tensor {shown_value(emb)}, which this model does not have",
                         file=name, hint=hint)
    rows, width = state[emb].shape[0], state[emb].shape[-1]
    ids = t["row_ids"]
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= rows or t["old_rows"].shape[1] != width):
        bad = int(ids.max()) if int(ids.max()) >= rows else int(ids.min())
        raise PatchError(f"changes embedding row {bad}, but this model's embedding has rows 0 to {rows - 1} "
                         f"of width {width}", file=name, hint=hint)
    for other in _other_tensors(patch):
        if other not in state:
            raise PatchError(f"changes tensor {shown_value(other)}, which this model does not have",
                             file=name, hint=hint)
        if state[other].shape != t[f"{src}.{other}"].shape:
            raise PatchError(f"changes tensor {shown_value(other)} with shape {tuple(t[f'{src}.{other}'].shape)}, "
                             f"but this model's is {tuple(state[other].shape)}", file=name, hint=hint)


def _swap(state: dict[str, torch.Tensor], patch: dict, forward: bool) -> dict[str, torch.Tensor]:
    t, meta = patch["tensors"], patch["metadata"]
    src, dst = ("before", "after") if forward else ("after", "before")
    _check_fits(state, patch, src)
    out = dict(state)
    emb = meta["embedding"]
    ids = t["row_ids"].to(torch.int64)
    expect, put = (t["old_rows"], t["new_rows"]) if forward else (t["new_rows"], t["old_rows"])
    done = "applied" if forward else "reverted"
    if len(ids):
        if not torch.equal(state[emb][ids], expect):
            raise PatchError(f"the embedding rows do not match the patch: wrong model or already {done}",
                             file=patch.get("name"))
        w = state[emb].clone()
        w[ids] = put
        out[emb] = w
    for name in _other_tensors(patch):
        if not torch.equal(state[name], t[f"{src}.{name}"]):
            raise PatchError(f"tensor {name} does not match the patch: wrong model or already {done}",
                             file=patch.get("name"))
        out[name] = t[f"{dst}.{name}"].clone()
    return out


def apply_patch(state: dict[str, torch.Tensor], patch: dict) -> dict[str, torch.Tensor]:
    """Original weights -> new weights."""
    return _swap(state, patch, forward=True)


def revert_patch(state: dict[str, torch.Tensor], patch: dict) -> dict[str, torch.Tensor]:
    """New weights -> original weights."""
    return _swap(state, patch, forward=False)
