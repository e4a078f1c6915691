"""The opaque keyset cursor of every listing: the last item's sort key, tagged with the listing
it belongs to, so a cursor of one listing is refused by another."""

from __future__ import annotations

import base64
import binascii
import re

from staking.domain.errors import SwarmError

NUMBER = re.compile(r"[0-9]{1,20}")
SLASH_ID = re.compile(r"0x[0-9a-f]{64}")


class InvalidCursor(SwarmError, ValueError):
    def __init__(self) -> None:
        super().__init__("cursor is not one this API issued")


def encode_cursor(kind: str, *parts: object) -> str:
    raw = ":".join([kind, *(str(x) for x in parts)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, *parts: re.Pattern[str]) -> list[str]:
    """The sort key of a cursor made by `encode_cursor(kind, ...)`, each value matching its
    pattern in `parts`; InvalidCursor (a ValueError) for anything else."""
    try:
        prefix, *values = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor from None
    if prefix != kind or len(values) != len(parts) or not all(map(re.fullmatch, parts, values)):
        raise InvalidCursor
    return values
