"""RFC 6962 proofs over a Merkle tree: the root of any prefix, inclusion and consistency proofs,
and checking them with nothing but the hashes (RFC 9162 §2.1.3.2 and §2.1.4.2).

The tree is :mod:`audit.merkle`'s (leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || l || r));
this module works on the leaves' hashes, so the same code proves a run's firings or the ledger.
A checkpoint (:mod:`audit.checkpoint`) signs the root of the ledger's tree; these proofs show a
later tree extends it, or holds one event, without handing over every leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from audit.merkle import NODE_PREFIX, subtree_root

EMPTY_ROOT_BYTES = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not prove what it claims."""


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2): the size of the left subtree."""
    return 1 << ((n - 1).bit_length() - 1)


CACHED_FROM_LEVEL = 8
"""Subtrees of 2^8 leaves and more are kept once computed: proofs and prefix roots then cost a
few hundred hashes, not the whole ledger's (a province's has over a million events)."""


class Tree:
    """The tree over the given leaf hashes, for its root, the roots of its prefixes and proofs.

    Every subtree RFC 6962 builds starts at a multiple of its own size rounded up to a power of
    two, so a complete subtree of 2^k leaves is node ``lo >> k`` of level k; the levels from
    :data:`CACHED_FROM_LEVEL` up are made once (one pass of hashing, as for the root alone).
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.leaves = leaf_hashes
        self.size = len(leaf_hashes)
        self._levels: dict[int, list[bytes]] = {}
        level: Sequence[bytes] = leaf_hashes
        k = 0
        while len(level) > 1:
            level = [node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            k += 1
            if k >= CACHED_FROM_LEVEL:
                self._levels[k] = level

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi): a subtree's root."""
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT_BYTES
        if n == 1:
            return self.leaves[lo]
        if n & (n - 1) == 0:
            cached = self._levels.get(n.bit_length() - 1)
            if cached is not None and lo % n == 0:
                return cached[lo // n]
        k = _split(n)
        return node(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree of the first ``size`` leaves (all of them by default)."""
        return self.mth(0, self.size if size is None else size)

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 6962 PATH(index, D[n]): the sibling subtree roots from the leaf up to the root."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf {index} is not in a tree of {self.size} leaves")
        path: list[bytes] = []
        lo, hi = 0, self.size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self.mth(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.mth(lo, lo + k))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """RFC 6962 PROOF(m, D[n]): the nodes that show the tree of ``old_size`` leaves is a prefix."""
        n = self.size
        if not 0 <= old_size <= n:
            raise ValueError(f"a tree of {n} leaves has no prefix of {old_size}")
        if old_size in (0, n):
            return []
        proof: list[bytes] = []
        lo, hi, m, whole = 0, n, old_size, True
        while m != hi - lo:  # SUBPROOF(m, D[lo:hi], whole), unrolled
            k = _split(hi - lo)
            if m <= k:
                proof.append(self.mth(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.mth(lo, lo + k))
                lo, m, whole = lo + k, m - k, False
        if not whole:
            proof.append(self.mth(lo, hi))
        proof.reverse()
        return proof


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the leaves whose hashes are given (the empty tree hashes no bytes)."""
    return subtree_root(list(leaf_hashes)) if leaf_hashes else EMPTY_ROOT_BYTES


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    return Tree(leaf_hashes).inclusion_proof(index)


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    return Tree(leaf_hashes).consistency_proof(old_size)


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes],
                     root_hash: bytes) -> None:
    """RFC 9162 §2.1.3.2; raises :class:`ProofError` unless the leaf is at ``index`` of the tree."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != root_hash:
        raise ProofError(f"leaf {index} is not in the tree of {size} leaves with that root")


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes,
                       new_root: bytes) -> None:
    """RFC 9162 §2.1.4.2; raises :class:`ProofError` unless the old tree is a prefix of the new."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"a tree of {new_size} leaves cannot extend one of {old_size}")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise ProofError(f"two trees of {old_size} leaves with different roots")
        return
    if old_size == 0:
        if proof:
            raise ProofError("the empty tree needs no proof")
        return
    if not proof:
        raise ProofError("an empty consistency proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError(f"the first {old_size} leaves of the tree of {new_size} do not have "
                         "the old root: the history was changed")
    if sr != new_root:
        # (with a power-of-two old size the old root seeds the path, so a changed history shows here)
        raise ProofError(f"the proof from the old root does not lead to the tree of {new_size} leaves "
                         f"with that root: the history was changed, or the proof is not this tree's")
