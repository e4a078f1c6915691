"""Merkle trees of (account, weight) leaves, compatible with OpenZeppelin `MerkleProof` (pure).

Leaf = keccak256(bytes.concat(keccak256(abi.encode(address, uint256 weight)))) — double hashed so
a leaf can never be mistaken for an inner node. Inner nodes hash their two children sorted, so
proofs carry no left/right flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eth_abi import encode
from eth_utils import keccak, to_checksum_address


def leaf_hash(account: str, weight: int) -> bytes:
    return keccak(keccak(encode(["address", "uint256"], [to_checksum_address(account), weight])))


def _parent(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a <= b else keccak(b + a)


@dataclass(frozen=True)
class WeightTree:
    """A tree over `weights` (account -> weight > 0), with proofs for every account."""

    root: bytes
    total_weight: int
    proofs: dict[str, list[bytes]]
    weights: dict[str, int]

    @classmethod
    def build(cls, weights: Mapping[str, int]) -> WeightTree:
        clean: dict[str, int] = {}
        for account, weight in weights.items():
            if weight <= 0:
                raise ValueError(f"weight of {account} must be positive, got {weight}")
            clean[to_checksum_address(account)] = int(weight)
        if not clean:
            return cls(root=b"\x00" * 32, total_weight=0, proofs={}, weights={})
        # Sort leaves so the same weights always give the same root.
        items = sorted((leaf_hash(a, w), a) for a, w in clean.items())
        level = [h for h, _ in items]
        positions = {a: i for i, (_, a) in enumerate(items)}
        proofs: dict[str, list[bytes]] = {a: [] for a in clean}
        while len(level) > 1:
            nxt: list[bytes] = []
            for i in range(0, len(level), 2):
                if i + 1 < len(level):
                    nxt.append(_parent(level[i], level[i + 1]))
                else:
                    nxt.append(level[i])  # odd node is promoted unchanged
            for account, pos in positions.items():
                sibling = pos ^ 1
                if sibling < len(level):
                    proofs[account].append(level[sibling])
                positions[account] = pos // 2
            level = nxt
        return cls(root=level[0], total_weight=sum(clean.values()), proofs=proofs, weights=clean)


def verify(proof: list[bytes], root: bytes, account: str, weight: int) -> bool:
    node = leaf_hash(account, weight)
    for sibling in proof:
        node = _parent(node, sibling)
    return node == root
