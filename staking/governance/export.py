"""A batch of calls as a Safe Transaction Builder JSON file (the Safe web app's import format).

Pure: it builds the document from already-encoded calls; nothing here reads a chain. Owners load
the file in the Safe app's Transaction Builder, review each call and sign the batch there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import is_address, to_checksum_address

TX_BUILDER_VERSION = "1.16.5"
BATCH_FORMAT_VERSION = "1.0"


@dataclass(frozen=True)
class BatchCall:
    """One call of a batch. `method` / `inputs`: the called function's ABI entry and its argument
    values as strings (the Transaction Builder's `contractMethod` / `contractInputsValues`), or None
    for a raw call."""

    to: str
    data: bytes
    value: int = 0
    method: dict[str, Any] | None = None
    inputs: dict[str, str] | None = None

    def document(self) -> dict[str, Any]:
        if not is_address(self.to):
            raise ValueError(f"not an address: {self.to!r}")
        if self.value < 0:
            raise ValueError("a call's value is not negative")
        if (self.method is None) != (self.inputs is None):
            raise ValueError("method and inputs are given together or not at all")
        method = None
        if self.method is not None:
            method = {
                "inputs": [
                    {"internalType": i.get("internalType", i["type"]), "name": i["name"], "type": i["type"]}
                    for i in self.method.get("inputs", [])
                ],
                "name": self.method["name"],
                "payable": self.method.get("stateMutability") == "payable",
            }
        return {
            "to": to_checksum_address(self.to),
            "value": str(self.value),
            "data": "0x" + self.data.hex(),
            "contractMethod": method,
            "contractInputsValues": dict(self.inputs) if self.inputs is not None else None,
        }


def transaction_builder_batch(
    chain_id: int,
    safe: str,
    calls: Sequence[BatchCall],
    name: str,
    created_at_ms: int,
    description: str = "",
) -> dict[str, Any]:
    """The Transaction Builder document of `calls` for `safe` on `chain_id`."""
    if not calls:
        raise ValueError("a batch holds at least one call")
    if not is_address(safe):
        raise ValueError(f"not an address: {safe!r}")
    return {
        "version": BATCH_FORMAT_VERSION,
        "chainId": str(chain_id),
        "createdAt": created_at_ms,
        "meta": {
            "name": name,
            "description": description,
            "txBuilderVersion": TX_BUILDER_VERSION,
            "createdFromSafeAddress": to_checksum_address(safe),
        },
        "transactions": [call.document() for call in calls],
    }


def dumps(batch: dict[str, Any]) -> str:
    """The file's text (stable key order, indented, newline-terminated)."""
    return json.dumps(batch, indent=2) + "\n"
