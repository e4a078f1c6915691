"""Addresses and ids as they arrive from outside: one pattern and one parser each."""

from __future__ import annotations

import functools
import re

from eth_utils import is_checksum_address, to_checksum_address

from staking.domain.errors import SwarmError

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
ID_PATTERN = r"^0x[0-9a-fA-F]{64}$"  # a verdict id (= slash id), evidence hash, batch id
ADDRESS = re.compile(ADDRESS_PATTERN)
ID = re.compile(ID_PATTERN)


class InvalidAddress(SwarmError, ValueError):
    """Not a 0x-address, or mixed case with a wrong EIP-55 checksum."""


def normalize_address(value: str) -> str:
    """The checksummed form of `value`. Lower-case (or all upper-case) hex is accepted as is;
    mixed case must be a valid EIP-55 checksum. Raises InvalidAddress otherwise."""
    if not isinstance(value, str) or not ADDRESS.match(value):
        raise InvalidAddress(f"{value!r} is not an address (0x followed by 40 hex digits)")
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(value):
        raise InvalidAddress(
            f"{value} has mixed case but an invalid EIP-55 checksum (a typo?); "
            "send it checksummed or all lower-case"
        )
    return checksummed(value.lower())


@functools.lru_cache(maxsize=65_536)
def checksummed(lower: str) -> str:
    """EIP-55 costs a keccak per call, more than a provider lookup's SQL; addresses repeat."""
    return str(to_checksum_address(lower))


def normalize_id(value: str) -> str | None:
    """The stored form of a verdict id (`0x` + 64 lower-case hex digits), or None if malformed."""
    return value.lower() if ID.match(value) else None
