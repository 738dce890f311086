"""Parameter diff: compare every tensor of the original and the new model files, bit for bit.

Counts, never assumes: which tensors changed, which embedding rows changed (with token and L2 norm of
the change), how many individual parameters differ, and a verdict that fails if anything changed
outside what the method is allowed to change (for STEU: the k selected rows and the head).
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from .base import AuditInputs, register_audit


def load_state(model_dir: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint directory's safetensors files (sharded or not)."""
    state: dict[str, torch.Tensor] = {}
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        pickles = sorted(Path(model_dir).glob("pytorch_model*.bin"))
        if pickles:  # accepted only with --allow-pickle upstream; read with torch's restricted unpickler
            for f in pickles:
                state.update(torch.load(str(f), map_location="cpu", weights_only=True))
            return state
        raise FileNotFoundError(f"no .safetensors weights in {model_dir}")
    for f in files:
        state.update(load_file(str(f)))
    return state


def _resolve(name: str, keys) -> str | None:
    """A parameter name as stored in the file (prefixes can differ between save and load)."""
    if name in keys:
        return name
    matches = [k for k in keys if k.endswith("." + name) or name.endswith("." + k)]
    return matches[0] if len(matches) == 1 else None


def diff_states(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], *, embedding_name: str,
                head_names: list[str], allowed, tokenizer=None, pmi_by_id: dict | None = None) -> dict:
    problems: list[str] = []
    if set(before) != set(after):
        missing, extra = sorted(set(before) - set(after)), sorted(set(after) - set(before))
        problems.append(f"tensor names differ (missing {missing[:5]}, extra {extra[:5]})")
    emb_key = _resolve(embedding_name, before.keys())
    head_keys = {k for k in (_resolve(h, before.keys()) for h in head_names) if k}
    changed_tensors, params_changed = [], 0
    params_total = sum(t.numel() for t in before.values())
    rows_info: list[dict] = []
    for name in sorted(set(before) & set(after)):
        a, b = before[name], after[name]
        if a.shape != b.shape or a.dtype != b.dtype:
            problems.append(f"tensor {name} changed shape or dtype")
            changed_tensors.append(name)
            continue
        if torch.equal(a, b):
            continue
        changed_tensors.append(name)
        params_changed += int((a != b).sum())
        if name == emb_key:
            row_changed = (a != b).any(dim=1)
            ids = torch.nonzero(row_changed).flatten().tolist()
            l2 = (b[ids].float() - a[ids].float()).norm(dim=1).tolist() if ids else []
            tokens = tokenizer.convert_ids_to_tokens(ids) if tokenizer is not None and ids else [""] * len(ids)
            rows_info = sorted(({"id": int(i), "token": str(t), "l2_change": float(v),
                                 "pmi": (pmi_by_id or {}).get(int(i))} for i, t, v in zip(ids, tokens, l2)),
                               key=lambda r: -r["l2_change"])
    encoder_changed = [n for n in changed_tensors if n != emb_key and n not in head_keys]
    if allowed is not None and not getattr(allowed, "everything", False):
        if encoder_changed:
            problems.append(f"{len(encoder_changed)} tensor(s) outside the embedding rows and the head changed: "
                            f"{', '.join(encoder_changed[:5])}")
        allowed_rows = set(allowed.embedding_rows or [])
        stray = [r["id"] for r in rows_info if r["id"] not in allowed_rows]
        if stray:
            problems.append(f"{len(stray)} embedding row(s) changed that were not selected (ids {stray[:10]})")
        if not allowed.head and any(k in head_keys for k in changed_tensors):
            problems.append("the classification head changed although the method keeps it frozen")
    verdict = "fail" if problems else "pass"
    message = ("; ".join(problems) if problems else
               f"only the allowed parameters changed: {len(rows_info)} embedding row(s) and "
               f"{len([k for k in changed_tensors if k in head_keys])} head tensor(s); every other tensor is "
               "bit-identical")
    return {"params_total": params_total, "params_changed": params_changed,
            "params_changed_fraction": params_changed / params_total if params_total else 0.0,
            "changed_tensors": changed_tensors, "changed_embedding_rows": len(rows_info),
            "changed_rows": rows_info, "encoder_unchanged": not encoder_changed,
            "param_diff_verdict": verdict, "param_diff_message": message}


@register_audit("param_diff")
def param_diff(inp: AuditInputs) -> dict:
    return diff_states(load_state(inp.original_dir), load_state(inp.new_dir), embedding_name=inp.embedding_name,
                       head_names=inp.head_names, allowed=inp.allowed, tokenizer=inp.tokenizer,
                       pmi_by_id=inp.pmi_by_id)
