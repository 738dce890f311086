"""Training only what a method may change: chosen rows of the input embedding (RowOverride), or
nothing at all (frozen)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn


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
        self._users = 0  # the blocks inside ``with`` now: scoring runs several at once (steu_core.lanes)
        self._lock = threading.Lock()

    def _hook(self, module, inputs, output):
        slot = self.lookup[inputs[0]]
        hit = slot >= 0
        if not bool(hit.any()):
            return output
        replaced = self.rows[slot.clamp(min=0)].to(output.dtype)
        return torch.where(hit.unsqueeze(-1), replaced, output)

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                self._handle = self.embedding.register_forward_hook(self._hook)
            self._users += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            if self._users == 0:
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
