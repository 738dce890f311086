"""The Merkle hash tree of RFC 9162 (Certificate Transparency 2.0), section 2.1: pure functions.

Written from the RFC text. Hashes are SHA-256 and domain-separated, so that a leaf can never be read
as an inner node (second-preimage resistance, RFC 9162 2.1.1)::

    leaf hash  = SHA-256(0x00 || leaf data)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256()                          (the empty tree)
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n]))     k = the largest power of two smaller than n

Trees are given as their list of *leaf hashes* (``leaf_hash(data)`` of each leaf, in log order), so
that a caller hashes its leaves once and then asks for roots, inclusion paths (2.1.3) and consistency
proofs (2.1.4) of any prefix. Sub-trees are addressed by [lo, hi) ranges instead of list slices: the
RFC's recursion then costs O(n) hashes and no copying. Verification follows the RFC's iterative
algorithms (2.1.3.2, 2.1.4.2) step by step; it needs only the proof, the sizes and the roots.

Nothing here knows about SQLite or the ledger's entries.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf."""
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an inner node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n > 1): where MTH splits D[n]."""
    if n < 2:
        raise ValueError(f"a tree of {n} leaves has no split point")
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH of the leaves [lo, hi), given their leaf hashes."""
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[lo]
    k = split_point(n)
    return node_hash(_range_root(hashes, lo, lo + k), _range_root(hashes, lo + k, hi))


def root_of_leaf_hashes(hashes: Sequence[bytes], size: int | None = None) -> bytes:
    """MTH of the first ``size`` leaves (all of them when None), given their leaf hashes."""
    size = len(hashes) if size is None else size
    if not 0 <= size <= len(hashes):
        raise ValueError(f"tree size {size} is outside 0..{len(hashes)}")
    return _range_root(hashes, 0, size)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf data ``leaves``."""
    return root_of_leaf_hashes([leaf_hash(d) for d in leaves])


# -- inclusion proofs (RFC 9162 2.1.3) ----------------------------------------------------------
def _range_path(hashes: Sequence[bytes], m: int, lo: int, hi: int) -> list[bytes]:
    """PATH(m, D[lo:hi]): the sibling hashes from leaf m (relative to lo) up to this range's root."""
    n = hi - lo
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return _range_path(hashes, m, lo, lo + k) + [_range_root(hashes, lo + k, hi)]
    return _range_path(hashes, m - k, lo + k, hi) + [_range_root(hashes, lo, lo + k)]


def inclusion_path(hashes: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """The audit path of leaf ``index`` (0-based) in the tree of the first ``size`` leaves."""
    size = len(hashes) if size is None else size
    if not 0 < size <= len(hashes):
        raise ValueError(f"tree size {size} is outside 1..{len(hashes)}")
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside 0..{size - 1}")
    return _range_path(hashes, index, 0, size)


def root_from_inclusion_path(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` proves for leaf hash ``leaf`` at ``index``, or None if the path cannot
    be a path for that index and size (RFC 9162 2.1.3.2, steps 1-4 and the "sn is 0" test of step 5)."""
    if index >= size or index < 0:  # step 1
        return None
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in path:  # step 4
        if sn == 0:  # 4a
            return None
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1  # 4c
    return r if sn == 0 else None  # step 5 (first half)


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    """True when ``path`` proves that leaf hash ``leaf`` is leaf ``index`` of the tree of ``size``
    leaves whose root is ``root`` (RFC 9162 2.1.3.2)."""
    if not _all_hashes([leaf, root, *path]):
        return False
    return root_from_inclusion_path(index, size, leaf, path) == root


# -- consistency proofs (RFC 9162 2.1.4) --------------------------------------------------------
def _range_subproof(hashes: Sequence[bytes], m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[lo:hi], b) of RFC 9162 2.1.4.1; ``complete`` is b: D[lo:lo+m] is a whole
    sub-tree the verifier already knows (so its root is left out)."""
    n = hi - lo
    if m == n:
        return [] if complete else [_range_root(hashes, lo, hi)]
    k = split_point(n)
    if m <= k:
        return _range_subproof(hashes, m, lo, lo + k, complete) + [_range_root(hashes, lo + k, hi)]
    return _range_subproof(hashes, m - k, lo + k, hi, False) + [_range_root(hashes, lo, lo + k)]


def consistency_path(hashes: Sequence[bytes], old_size: int, new_size: int | None = None) -> list[bytes]:
    """PROOF(m, D[n]): the hashes that prove the tree of ``new_size`` leaves (all when None) extends
    the tree of its first ``old_size`` leaves. Empty when old_size is 0 or equals new_size: there is
    nothing to prove (an empty tree is a prefix of every tree; a tree is a prefix of itself)."""
    new_size = len(hashes) if new_size is None else new_size
    if not 0 <= new_size <= len(hashes):
        raise ValueError(f"tree size {new_size} is outside 0..{len(hashes)}")
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old tree size {old_size} is outside 0..{new_size}")
    if old_size in (0, new_size):
        return []
    return _range_subproof(hashes, old_size, 0, new_size, True)


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       path: Sequence[bytes]) -> bool:
    """True when ``path`` proves that the tree (``new_size``, ``new_root``) extends the tree
    (``old_size``, ``old_root``): RFC 9162 2.1.4.2, plus the two trivial cases the RFC leaves out
    (old_size 0: any tree extends the empty one; equal sizes: the roots must be equal), both of which
    take an empty path only."""
    if not _all_hashes([old_root, new_root, *path]) or not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not path
    if old_size == new_size:
        return not path and old_root == new_root
    if not path:  # step 1
        return False
    return _roots_from_consistency_path(old_size, new_size, old_root, list(path)) == (old_root, new_root)


def _roots_from_consistency_path(first: int, second: int, first_hash: bytes,
                                 path: list[bytes]) -> tuple[bytes, bytes] | None:
    """Steps 2-7 of RFC 9162 2.1.4.2: the (old, new) roots the path proves, or None."""
    if first & (first - 1) == 0:  # step 2: the old tree is one whole sub-tree, its root is not sent
        path = [first_hash] + path
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            return None
        if fn & 1 or fn == sn:  # 6b
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1  # 6c
    return (fr, sr) if sn == 0 else None  # step 7 (the roots are compared by the caller)


def _all_hashes(values: Sequence[bytes]) -> bool:
    """Every value is a 32-byte hash (a short or long value can never be part of a valid proof)."""
    return all(isinstance(v, (bytes, bytearray)) and len(v) == HASH_SIZE for v in values)
