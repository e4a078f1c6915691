"""Signatures for the co-signature tests: a second detector on the devnet, and a second valid
signature of the same verdict by the same key (eth-account signs deterministically, RFC 6979, so
another one needs another nonce `k`)."""

from __future__ import annotations

import secrets

from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_keys.backends.native.jacobian import fast_multiply
from eth_keys.constants import SECPK1_G, SECPK1_N

from staking.verdict import Domain, Verdict, typed_data

SECOND_DETECTOR_INDEX = 13  # unlocked by anvil, holds no role until a test grants it
THIRD_DETECTOR_INDEX = 14


def signature_with_nonce(verdict: Verdict, domain: Domain, key: bytes, k: int | None = None) -> bytes:
    """A canonical (low-s, v = 27/28) EIP-712 signature of `verdict` by `key`, with nonce `k`
    (random unless given): valid, and different from `sign_verdict`'s."""
    digest = _hash_eip191_message(encode_typed_data(full_message=typed_data(verdict, domain)))
    z = int.from_bytes(digest, "big")
    d = int.from_bytes(key, "big")
    while True:
        nonce = k if k is not None else secrets.randbelow(SECPK1_N - 1) + 1
        x, y = fast_multiply(SECPK1_G, nonce)
        r = x % SECPK1_N
        s = pow(nonce, -1, SECPK1_N) * (z + r * d) % SECPK1_N
        if r and s:
            break
        k = None
    recovery = y & 1
    if s > SECPK1_N // 2:  # the contract takes the lower half only (EIP-2)
        s, recovery = SECPK1_N - s, recovery ^ 1
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + recovery])
