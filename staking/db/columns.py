"""The metadata every table of the projection and of the service's own records belongs to, and
the column types of addresses and hashes (checksummed addresses, 0x-hex bytes32)."""

from __future__ import annotations

from sqlalchemy import MetaData, String

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ADDRESS = String(42)
HASH = String(66)
