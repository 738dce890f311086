"""Which notes a method trains on: stratified samples and endless shuffled passes."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split


def stratified_sample(labels: torch.Tensor, n: int, seed: int) -> list[int]:
    """Up to n indices, each class represented in proportion, deterministic for a seed."""
    if len(labels) <= n:
        return list(range(len(labels)))
    idx = np.arange(len(labels))
    _, chosen = train_test_split(idx, test_size=n, random_state=seed, stratify=labels.numpy())
    return sorted(chosen.tolist())


def chunks(seq, n):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


class Cycler:
    """Endless shuffled passes over range(n), deterministic for a generator."""

    def __init__(self, n: int, gen: torch.Generator):
        self.n, self.gen, self.buf = n, gen, []

    def take(self, k: int) -> list[int]:
        out = []
        while len(out) < min(k, self.n):
            if not self.buf:
                self.buf = torch.randperm(self.n, generator=self.gen).tolist()
            out.append(self.buf.pop())
        return out
