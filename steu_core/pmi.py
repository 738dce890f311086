"""PMI token selection: which vocabulary rows carry the forget class.

PMI(t) = log((df_f(t) + a) / (N_f + 2a)) - log((df(t) + a) / (N + 2a)), where df_f counts forget
documents containing t and df counts all documents (forget + retain) containing t. Special tokens are
skipped and df_f(t) >= min_df is required. Counting is one pass over the token ids.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from .errors import ConfigError

DEFAULT_BUDGET = 0.0019  # the paper's 0.19 % of all parameters, head included


@dataclass(frozen=True)
class TokenScore:
    token: str
    id: int
    pmi: float
    df_forget: int
    df_total: int

    def as_dict(self) -> dict:
        return asdict(self)


def _is_compact(docs) -> bool:
    """An Encoded (or its ids view): one flat id array plus offsets."""
    return hasattr(docs, "flat") and hasattr(docs, "offsets")


def _compact_df(flat: np.ndarray, offsets: np.ndarray, vocab_size: int, counts: np.ndarray,
                chunk_tokens: int = 1 << 22) -> None:
    """Add the document frequencies of compact docs to ``counts``, a bounded number of tokens at a time."""
    n = len(offsets) - 1
    d = 0
    while d < n:
        # as many documents as fit in chunk_tokens (at least one)
        e = int(np.searchsorted(offsets, offsets[d] + chunk_tokens, side="right")) - 1
        e = min(max(e, d + 1), n)
        seg = flat[offsets[d]:offsets[e]].astype(np.int64)
        doc = np.repeat(np.arange(e - d, dtype=np.int64), np.diff(offsets[d:e + 1]))
        keep = (seg >= 0) & (seg < vocab_size)
        pairs = np.unique(doc[keep] * vocab_size + seg[keep])  # each (document, token) once
        counts += np.bincount(pairs % vocab_size, minlength=vocab_size)
        d = e


def document_frequency(docs: Iterable[Sequence[int]], vocab_size: int) -> tuple[np.ndarray, int]:
    """How many documents contain each token id (each document counted once), and the document count.

    One streaming pass: ``docs`` may be an Encoded (or its ``ids``), an iterable of Encoded chunks
    (e.g. from :func:`steu_core.model.iter_encode`, so a corpus never has to be held whole), or any
    iterable of token-id sequences. Ids outside the vocabulary are ignored.
    """
    counts = np.zeros(vocab_size, dtype=np.int64)
    if _is_compact(docs):
        _compact_df(docs.flat, docs.offsets, vocab_size, counts)
        return counts, len(docs.offsets) - 1
    n = 0
    for doc in docs:
        if _is_compact(doc):
            _compact_df(doc.flat, doc.offsets, vocab_size, counts)
            n += len(doc.offsets) - 1
            continue
        if len(doc):
            u = np.unique(np.asarray(doc, dtype=np.int64))
            counts[u[(u >= 0) & (u < vocab_size)]] += 1
        n += 1
    return counts, n


def pmi_scores(df_forget: np.ndarray, n_forget: int, df_total: np.ndarray, n_total: int,
               alpha: float = 1.0) -> np.ndarray:
    return (np.log((df_forget + alpha) / (n_forget + 2 * alpha))
            - np.log((df_total + alpha) / (n_total + 2 * alpha)))


def check_k_fits(k: int, vocab_size: int) -> None:
    """k rows cannot be more than the embedding matrix has."""
    if k > vocab_size:
        raise ConfigError(f"k = {k} is larger than the vocabulary ({vocab_size} tokens).",
                          hint="Choose a smaller --k, or use --budget.")


def k_from_budget(params_total: int, head_params: int, hidden_size: int, budget: float) -> int:
    """Rows that fit in ``budget`` (a fraction of all parameters) once the head is paid for."""
    if not (0 < budget < 1):
        raise ConfigError(f"budget {budget} is not a fraction between 0 and 1 (exclusive).",
                          hint="Give e.g. --budget 0.0019 for the paper's 0.19 % of all parameters.")
    room = budget * params_total - head_params
    k = int(math.floor(room / hidden_size))
    if k < 1:
        need = (head_params + hidden_size) / params_total
        raise ConfigError(f"budget {budget:.6f} ({budget * params_total:,.0f} parameters) does not even cover "
                          f"the classification head ({head_params:,} parameters) plus one embedding row.",
                          hint=f"Raise --budget to at least {need:.6f}, or give --k directly.")
    return k


def select_tokens(forget_docs: Sequence[Sequence[int]], retain_docs: Sequence[Sequence[int]], tokenizer,
                  k: int, *, min_df: int = 2, alpha: float = 1.0, vocab_size: int | None = None,
                  exclude_ids: Iterable[int] = (), count=None) -> list[TokenScore]:
    """The top-k tokens by PMI with the forget documents (ties: more forget documents, then lower id).

    ``count(docs, vocab_size) -> (df, n)`` replaces :func:`document_frequency` (the multi-process
    run passes one that counts a shard per process and sums the counts).
    """
    count = count or document_frequency
    vocab_size = vocab_size or len(tokenizer)
    if k < 1:
        raise ConfigError(f"k must be at least 1 (got {k}).", hint="Give --k 1 or more, or use --budget.")
    check_k_fits(k, vocab_size)
    df_f, n_f = count(forget_docs, vocab_size)
    df_r, n_r = count(retain_docs, vocab_size)
    df_all, n_all = df_f + df_r, n_f + n_r
    scores = pmi_scores(df_f, n_f, df_all, n_all, alpha)
    eligible = df_f >= min_df
    skip = set(getattr(tokenizer, "all_special_ids", [])) | set(exclude_ids)
    if skip:
        eligible[[i for i in skip if 0 <= i < vocab_size]] = False
    cand = np.flatnonzero(eligible)
    if cand.size == 0:
        raise ConfigError(f"no token occurs in at least {min_df} forget documents.",
                          hint="Lower min_df (--settings '{\"min_df\": 1}'), raise --max-length, or add forget examples.")
    order = np.lexsort((cand, -df_f[cand], -scores[cand]))
    chosen = cand[order[:k]]
    tokens = tokenizer.convert_ids_to_tokens([int(i) for i in chosen])
    return [TokenScore(token=str(t), id=int(i), pmi=float(scores[i]), df_forget=int(df_f[i]),
                       df_total=int(df_all[i])) for t, i in zip(tokens, chosen)]


def coverage(docs: Sequence[Sequence[int]], ids: Iterable[int]) -> np.ndarray:
    """Boolean mask: which documents contain at least one of ``ids``."""
    if _is_compact(docs):
        hit = np.isin(docs.flat, np.fromiter((int(i) for i in ids), dtype=np.int64))
        cum = np.concatenate([[0], np.cumsum(hit, dtype=np.int64)])
        return (cum[docs.offsets[1:]] - cum[docs.offsets[:-1]]) > 0
    wanted = set(int(i) for i in ids)
    return np.array([bool(wanted.intersection(doc)) for doc in docs], dtype=bool)
