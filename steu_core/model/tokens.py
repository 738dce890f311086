"""Tokenised corpora, dynamic padding and length-bucketed batches.

Token ids are stored compactly: one int32 array holding every note's ids back to back, and n+1
offsets (note i is flat[offsets[i]:offsets[i+1]]). That is 4 bytes a token; Python lists of ints
took about 9 times as much (bench/scale.py measures both). Tokenisation streams through the notes
in batches, so only one batch of Python lists exists at a time.

A note is cut to :func:`char_budget` characters (``CHARS_PER_TOKEN`` per token of ``max_length``) before
it reaches the tokenizer: the tokenizer works on the whole string it is given even when asked to
truncate, so without the cut one 30 MB note took about 4 GB. The cut falls on the last whitespace
before the budget, which keeps every word before it whole; a note that still gives at least
``max_length`` tokens is therefore encoded exactly as if it had been tokenised in full. Only a note
whose first ``max_length`` tokens span more than the budget (long runs of spaces or of characters the
tokenizer drops) is read shorter than it could be; it is counted as truncated like any cut note.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Sequence as _SequenceABC
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch


MIN_MAX_LENGTH = 8  # the shortest --max-length accepted: [CLS] ... [SEP] with a few tokens between
CHARS_PER_TOKEN = 32  # generous: WordPiece/BPE tokens of English notes average 3-6 characters
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")


def char_budget(max_length: int) -> int:
    """How many characters of a note are tokenised at most, for ``max_length`` tokens."""
    return CHARS_PER_TOKEN * max(int(max_length), 1)


def cut_note(text: str, budget: int) -> str:
    """``text`` cut to at most ``budget`` characters, at the last whitespace when there is one in
    the second half (so no word before the cut is split); else exactly at ``budget``."""
    if len(text) <= budget:
        return text
    head = text[:budget + 1]  # + 1: a whitespace right at the budget is a clean cut
    space = _LAST_SPACE.search(head, budget // 2)
    return text[:space.start()] if space else text[:budget]


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
    int32 array plus offsets (see the module docstring). ``ids`` is a sequence view of the notes.
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

    Each note is first cut to :func:`char_budget` characters (see the module docstring), then notes
    longer than ``max_length`` tokens are cut to ``max_length``, keeping the closing special token;
    each chunk counts how many notes were cut either way.
    """
    it = iter(texts)
    budget = char_budget(max_length)
    while True:
        chunk = list(itertools.islice(it, batch))
        if not chunk:
            return
        cut = [cut_note(text, budget) for text in chunk]
        full = tokenizer(cut, add_special_tokens=True, truncation=False, return_attention_mask=False,
                         verbose=False)["input_ids"]
        truncated = 0
        for j, seq in enumerate(full):
            if len(seq) > max_length or len(cut[j]) < len(chunk[j]):
                truncated += 1
            if len(seq) > max_length:
                full[j] = seq[:max_length - 1] + [seq[-1]]  # keep the closing special token
        lens = np.fromiter((len(s) for s in full), dtype=np.int64, count=len(full))
        flat = np.fromiter(itertools.chain.from_iterable(full), dtype=np.int32, count=int(lens.sum()))
        yield Encoded(flat=flat, offsets=np.concatenate([[0], np.cumsum(lens)]), truncated=truncated,
                      max_length=max_length)


def encode(tokenizer, texts: Iterable[str], max_length: int, batch: int = 1024,
           progress: Callable[[int], None] | None = None) -> Encoded:
    """Tokenise every note (streamed in batches of ``batch``) into one compact :class:`Encoded`;
    ``progress`` hears how many notes are done after each batch (a large file takes minutes)."""
    parts = iter_encode(tokenizer, texts, max_length, batch)
    return Encoded.concat(counted(parts, progress) if progress else parts, max_length=max_length)


def counted(parts: Iterator[Encoded], progress: Callable[[int], None]) -> Iterator[Encoded]:
    done = 0
    for part in parts:
        done += len(part)
        progress(done)
        yield part


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


def note_pieces(text: str, budget: int) -> Iterator[str]:
    """A whole note in pieces of at most ``budget`` characters, each cut at whitespace (see :func:`cut_note`)."""
    while text:
        head = cut_note(text, budget) or text[:budget]
        yield head
        text = text[len(head):]


def beyond_limit(tokenizer, texts: Iterable[str], ids: Iterable[int], max_length: int, batch: int = 256) -> dict:
    """Where the occurrences of the token ``ids`` in ``texts`` lie: how many in all, and how many beyond the
    first ``max_length`` tokens, in the part of a cut note that the model never reads.

    Every note is tokenised whole, in pieces of at most :func:`char_budget` characters cut at whitespace, so
    memory follows ``max_length`` as in :func:`encode`; a piece starts at a word, so WordPiece gives the
    tokens of the whole note (a byte-level BPE may differ in the first token of a piece)."""
    wanted = np.fromiter((int(i) for i in ids), dtype=np.int64)
    room = max(0, int(max_length) - tokenizer.num_special_tokens_to_add(pair=False))  # tokens read between specials
    counts = {"occurrences": 0, "beyond_limit": 0}
    if not len(wanted):
        return {**counts, "fraction": None, "max_length": int(max_length)}
    pieces = ((i, piece) for i, text in enumerate(texts) for piece in note_pieces(text, char_budget(max_length)))
    note, position = -1, 0
    while chunk := list(itertools.islice(pieces, batch)):
        encoded = tokenizer([p for _, p in chunk], add_special_tokens=False, return_attention_mask=False,
                            verbose=False)["input_ids"]
        for (i, _), seq in zip(chunk, encoded):
            note, position = i, (position if i == note else 0)
            hit = np.isin(np.asarray(seq, dtype=np.int64), wanted)
            counts["occurrences"] += int(hit.sum())
            counts["beyond_limit"] += int(hit[max(0, room - position):].sum())
            position += len(seq)
    n = counts["occurrences"]
    return {**counts, "fraction": counts["beyond_limit"] / n if n else None, "max_length": int(max_length)}
