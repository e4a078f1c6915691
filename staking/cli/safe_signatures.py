"""Safe owners' signatures as files, passed from one owner to the next (SPEC section 9, `--sign`,
`--signatures`). A file holds one owner's signature of one SafeTx, with the transaction itself so a
reader can see what was signed; loading checks the signature against the transaction it claims."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from staking.cli.common import fail

KIND = "swarm-staking/safe-signature"


def signature_document(
    chain_id: int, safe: str, tx: Any, safe_tx_hash: bytes, signer: str, signature: bytes
) -> dict[str, Any]:
    return {
        "kind": KIND,
        "chain_id": chain_id,
        "safe": safe,
        "safe_tx_hash": "0x" + safe_tx_hash.hex(),
        "nonce": tx.nonce,
        "to": tx.to,
        "value": str(tx.value),
        "data": "0x" + tx.data.hex(),
        "operation": int(tx.operation),
        "signer": signer,
        "signature": "0x" + signature.hex(),
    }


def default_path(safe_tx_hash: bytes, signer: str) -> Path:
    return Path(f"safe-{safe_tx_hash.hex()[:12]}-{signer[2:10].lower()}.sig.json")


def write_signature(path: Path, document: dict[str, Any]) -> None:
    if path.exists():
        fail(f"{path} exists: pick another --signature-out (a signature file is never overwritten)")
    path.write_text(json.dumps(document, indent=2) + "\n")


def load_signatures(
    paths: tuple[Path, ...], chain_id: int, safe: str, safe_tx_hash: bytes, owners: Sequence[str]
) -> dict[str, bytes]:
    """owner -> signature of every file, each checked: the same chain, Safe and SafeTx hash as the
    transaction this command builds, a signature that recovers to the file's signer, an owner."""
    from eth_account import Account
    from eth_utils import to_checksum_address

    out: dict[str, bytes] = {}
    for path in paths:
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            fail(f"signature file {path} not found")
        except (OSError, json.JSONDecodeError) as exc:
            fail(f"signature file {path} is not JSON: {exc}")
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            fail(f"{path} is not a Safe signature file of swarm-staking (kind {KIND})")
        try:
            signer = to_checksum_address(doc["signer"])
            signature = bytes.fromhex(str(doc["signature"]).removeprefix("0x"))
            claimed = bytes.fromhex(str(doc["safe_tx_hash"]).removeprefix("0x"))
            file_chain, file_safe = int(doc["chain_id"]), to_checksum_address(doc["safe"])
        except (KeyError, ValueError, TypeError) as exc:
            fail(f"signature file {path} is malformed: {type(exc).__name__}: {exc}")
        if file_chain != chain_id or file_safe != to_checksum_address(safe):
            fail(
                f"{path} signs for Safe {file_safe} on chain {file_chain}, not Safe {safe} on chain "
                f"{chain_id}"
            )
        if claimed != safe_tx_hash:
            fail(
                f"{path} signs Safe transaction 0x{claimed.hex()}, not 0x{safe_tx_hash.hex()} "
                f"(a different call, or the Safe's nonce moved since: sign again)"
            )
        if len(signature) != 65:
            fail(f"{path}: a signature is 65 bytes, this one {len(signature)}")
        recovered = to_checksum_address(Account._recover_hash(safe_tx_hash, signature=signature))
        if recovered != signer:
            fail(f"{path}: the signature recovers to {recovered}, not to its claimed signer {signer}")
        if signer not in owners:
            fail(f"{path}: {signer} is not an owner of Safe {safe}")
        if signer in out:
            fail(f"{path}: a second signature of {signer} (each owner counts once)")
        out[signer] = signature
    return out
