"""RFC 9162 Merkle tree: roots, inclusion and consistency proofs against the published test vectors.

The vectors (leaves, roots of every size 1..8, some proofs) are the well-known RFC 6962 ones, as
published in the tests of github.com/transparency-dev/merkle (proof/verify_test.go) and Google's
certificate-transparency code.
"""
from __future__ import annotations

import hashlib

import pytest

from steu_core.ledger import merkle as m

LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
H = bytes.fromhex
# (leaf index 0-based, tree size, audit path)
INCLUSION_VECTORS = [
    (0, 1, []),
    (0, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]
# (old size, new size, consistency path)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (1, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]
HASHES = [m.leaf_hash(d) for d in LEAVES]
SOME_HASH = H("abacaba000000000000000000000000000000000000000000060061e00123456")
PAIRS = [(a, b) for b in range(1, 9) for a in range(1, b + 1)]


def reference_mth(leaves: list[bytes]) -> bytes:
    """MTH written as the RFC states it, with slices: the independent reference for larger trees."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def test_empty_tree_root_is_sha256_of_nothing():
    assert m.tree_root([]) == m.EMPTY_ROOT == H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_every_size_matches_the_vectors(size):
    assert m.tree_root(LEAVES[:size]) == ROOTS[size - 1]
    assert m.root_of_leaf_hashes(HASHES, size) == ROOTS[size - 1]


def test_roots_match_the_reference_up_to_70_leaves():
    leaves = [bytes([i]) * (i % 5) for i in range(70)]
    hashes = [m.leaf_hash(d) for d in leaves]
    for size in range(71):
        assert m.root_of_leaf_hashes(hashes, size) == reference_mth(leaves[:size]), size


def test_split_point_is_the_largest_power_of_two_below_n():
    assert [m.split_point(n) for n in range(2, 11)] == [1, 2, 2, 4, 4, 4, 4, 8, 8]
    with pytest.raises(ValueError):
        m.split_point(1)


@pytest.mark.parametrize("index,size,path", INCLUSION_VECTORS)
def test_inclusion_vectors_are_generated_and_verified(index, size, path):
    assert m.inclusion_path(HASHES, index, size) == path
    assert m.verify_inclusion(index, size, HASHES[index], path, ROOTS[size - 1])


@pytest.mark.parametrize("size", range(1, 9))
def test_inclusion_of_every_leaf_in_every_size(size):
    root = ROOTS[size - 1]
    for index in range(size):
        path = m.inclusion_path(HASHES, index, size)
        assert m.verify_inclusion(index, size, HASHES[index], path, root)
        assert m.root_from_inclusion_path(index, size, HASHES[index], path) == root
        for wrong in _corrupt_inclusion(index, size, path, root):
            assert not m.verify_inclusion(*wrong), (index, size, wrong[:2])


def _corrupt_inclusion(index, size, path, root):
    leaf = HASHES[index]
    yield index + 1, size, leaf, path, root
    yield index - 1, size, leaf, path, root
    yield index ^ 2, size, leaf, path, root
    yield index, size * 2, leaf, path, root
    yield index, size // 2, leaf, path, root
    yield index, size, SOME_HASH, path, root
    yield index, size, leaf, path, m.EMPTY_ROOT
    yield index, size, leaf, path + [root], root
    yield index, size, leaf, [root] + path, root
    yield index, size, leaf, path + [b""], root
    if path:
        yield index, size, leaf, path[:-1], root
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        yield index, size, leaf, flipped, root


@pytest.mark.parametrize("old,new,path", CONSISTENCY_VECTORS)
def test_consistency_vectors_are_generated_and_verified(old, new, path):
    assert m.consistency_path(HASHES, old, new) == path
    assert m.verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], path)


@pytest.mark.parametrize("old,new", PAIRS)
def test_consistency_of_every_pair_of_sizes(old, new):
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    path = m.consistency_path(HASHES, old, new)
    assert m.verify_consistency(old, new, r1, r2, path)
    for wrong in _corrupt_consistency(old, new, r1, r2, path):
        assert not m.verify_consistency(*wrong), (old, new, wrong[:2])


def _corrupt_consistency(old, new, r1, r2, path):
    if old == new:  # the trivial case: only the roots and an empty path matter
        yield old, new, r1, SOME_HASH, path
        yield old, new, r1, r2, [r1]
        yield old + 1, new, r1, r2, path
        return
    yield old - 1, new, r1, r2, path
    yield old + 1, new, r1, r2, path
    yield old ^ 2, new, r1, r2, path
    yield old, new * 2, r1, r2, path
    yield old, new // 2, r1, r2, path
    yield old, new, SOME_HASH, r2, path
    yield old, new, r1, SOME_HASH, path
    yield old, new, r2, r1, path
    yield old, new, r1, r2, []
    yield old, new, r1, r2, path + [r1]
    yield old, new, r1, r2, path + [r2]
    yield old, new, r1, r2, [r1] + path
    yield old, new, r1, r2, [path[0]] + path
    yield old, new, r1, r2, path[:-1]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        yield old, new, r1, r2, flipped


def test_consistency_and_inclusion_on_a_larger_tree_match_the_reference():
    leaves = [f"entry {i}".encode() for i in range(37)]
    hashes = [m.leaf_hash(d) for d in leaves]
    roots = [reference_mth(leaves[:n]) for n in range(38)]
    for new in range(1, 38):
        for old in range(0, new + 1):
            assert m.verify_consistency(old, new, roots[old], roots[new], m.consistency_path(hashes, old, new))
        for index in range(new):
            assert m.verify_inclusion(index, new, hashes[index], m.inclusion_path(hashes, index, new), roots[new])


def test_trivial_consistency_cases():
    assert m.consistency_path(HASHES, 0, 8) == [] and m.consistency_path(HASHES, 8) == []
    assert m.verify_consistency(0, 8, m.EMPTY_ROOT, ROOTS[7], [])
    assert not m.verify_consistency(0, 8, m.EMPTY_ROOT, ROOTS[7], [ROOTS[0]])
    assert m.verify_consistency(8, 8, ROOTS[7], ROOTS[7], [])
    assert not m.verify_consistency(8, 8, ROOTS[7], ROOTS[6], [])
    assert not m.verify_consistency(8, 7, ROOTS[7], ROOTS[6], [])  # a tree never shrinks


def test_out_of_range_requests_are_refused():
    with pytest.raises(ValueError):
        m.inclusion_path(HASHES, 8, 8)
    with pytest.raises(ValueError):
        m.inclusion_path(HASHES, 0, 9)
    with pytest.raises(ValueError):
        m.consistency_path(HASHES, 5, 4)
    with pytest.raises(ValueError):
        m.root_of_leaf_hashes(HASHES, 9)
    assert not m.verify_inclusion(0, 0, HASHES[0], [], ROOTS[0])
