"""Typed wrappers of a Safe (1.4.1, the npm package's own artifacts, deployed as they are).

A Safe executes a `SafeTx` once `threshold` owners have signed its EIP-712 hash: plain ECDSA
signatures (v = 27/28), concatenated in ascending owner-address order, passed to `execTransaction`.
The hash is computed here and checked against the Safe's own `getTransactionHash`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from staking.chain.artifacts import SAFE_ARTIFACTS, Artifact, load_artifact
from staking.chain.sender import Sender, TransactionFailed
from staking.domain.vocabulary import Address

SAFE_VERSION = "1.4.1"
ZERO_ADDRESS = Address(to_checksum_address("0x" + "00" * 20))

_SOURCES = {
    "Safe": "contracts/Safe.sol",
    "SafeL2": "contracts/SafeL2.sol",
    "SafeProxyFactory": "contracts/proxies/SafeProxyFactory.sol",
    "CompatibilityFallbackHandler": "contracts/handler/CompatibilityFallbackHandler.sol",
    "MultiSendCallOnly": "contracts/libraries/MultiSendCallOnly.sol",
}

# EIP-712 types of a Safe >= 1.3 (domain: chainId and verifyingContract only).
_SAFE_TX_TYPES = {
    "EIP712Domain": [
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "SafeTx": [
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "data", "type": "bytes"},
        {"name": "operation", "type": "uint8"},
        {"name": "safeTxGas", "type": "uint256"},
        {"name": "baseGas", "type": "uint256"},
        {"name": "gasPrice", "type": "uint256"},
        {"name": "gasToken", "type": "address"},
        {"name": "refundReceiver", "type": "address"},
        {"name": "nonce", "type": "uint256"},
    ],
}


def safe_artifact(name: str) -> Artifact:
    """Safe, SafeL2, SafeProxyFactory or CompatibilityFallbackHandler from the npm package."""
    return load_artifact(name, SAFE_ARTIFACTS, _SOURCES[name])


class SafeOperation(IntEnum):
    CALL = 0
    DELEGATECALL = 1


@dataclass(frozen=True)
class SafeTx:
    """The fields a Safe's owners sign. Gas fields stay 0: no refund, the submitter pays."""

    to: Address
    data: bytes
    nonce: int
    value: int = 0
    operation: SafeOperation = SafeOperation.CALL
    safe_tx_gas: int = 0
    base_gas: int = 0
    gas_price: int = 0
    gas_token: Address = ZERO_ADDRESS
    refund_receiver: Address = ZERO_ADDRESS

    def args(self) -> list[Any]:
        """The leading arguments of getTransactionHash / execTransaction, in the ABI's order."""
        return [
            to_checksum_address(self.to),
            self.value,
            self.data,
            int(self.operation),
            self.safe_tx_gas,
            self.base_gas,
            self.gas_price,
            to_checksum_address(self.gas_token),
            to_checksum_address(self.refund_receiver),
        ]

    def typed_data(self, chain_id: int, safe: str) -> dict[str, Any]:
        return {
            "types": _SAFE_TX_TYPES,
            "primaryType": "SafeTx",
            "domain": {"chainId": chain_id, "verifyingContract": to_checksum_address(safe)},
            "message": {
                "to": to_checksum_address(self.to),
                "value": self.value,
                "data": self.data,
                "operation": int(self.operation),
                "safeTxGas": self.safe_tx_gas,
                "baseGas": self.base_gas,
                "gasPrice": self.gas_price,
                "gasToken": to_checksum_address(self.gas_token),
                "refundReceiver": to_checksum_address(self.refund_receiver),
                "nonce": self.nonce,
            },
        }

    def signable(self, chain_id: int, safe: str) -> SignableMessage:
        return encode_typed_data(full_message=self.typed_data(chain_id, safe))

    def eip712_hash(self, chain_id: int, safe: str) -> bytes:
        """The SafeTx hash computed locally: keccak(0x19 ‖ 0x01 ‖ domainSeparator ‖ structHash)."""
        msg = self.signable(chain_id, safe)
        return keccak(b"\x19" + msg.version + msg.header + msg.body)

    def sign(self, chain_id: int, safe: str, owner: LocalAccount) -> bytes:
        """`owner`'s 65-byte signature r ‖ s ‖ v (v = 27/28) over the SafeTx hash."""
        signed = Account.sign_message(self.signable(chain_id, safe), owner.key)
        return bytes(signed.signature)


def combine_signatures(signatures: Mapping[str, bytes]) -> bytes:
    """Owner address -> 65-byte signature, concatenated in ascending owner-address order (the
    order the Safe's checkNSignatures requires)."""
    for owner, sig in signatures.items():
        if len(sig) != 65:
            raise ValueError(f"signature of {owner} is {len(sig)} bytes, not 65")
    ordered = sorted(signatures.items(), key=lambda item: int(item[0], 16))
    return b"".join(sig for _, sig in ordered)


@dataclass(frozen=True)
class SafeSingletons:
    """The shared contracts every Safe proxy of a chain uses."""

    singleton: Address
    factory: Address
    fallback_handler: Address
    multi_send: Address  # MultiSendCallOnly: several calls in one Safe transaction


def _created(sender: Sender, name: str) -> Address:
    art = safe_artifact(name)
    receipt = sender.wait(sender.deploy(art.abi, art.bytecode, label=f"deploy {name}"))
    if receipt["contractAddress"] is None:
        raise TransactionFailed(f"deploy {name}: receipt has no contract address")
    return Address(to_checksum_address(receipt["contractAddress"]))


def deploy_singletons(sender: Sender, singleton: str = "Safe") -> SafeSingletons:
    """Deploy the Safe (or SafeL2) singleton, the proxy factory, the fallback handler and
    MultiSendCallOnly."""
    return SafeSingletons(
        singleton=_created(sender, singleton),
        factory=_created(sender, "SafeProxyFactory"),
        fallback_handler=_created(sender, "CompatibilityFallbackHandler"),
        multi_send=_created(sender, "MultiSendCallOnly"),
    )


@dataclass
class SafeContract:
    """A Safe proxy at `address` (the singleton's ABI)."""

    w3: Web3
    address: Address
    contract: Contract = field(init=False)

    def __post_init__(self) -> None:
        self.address = Address(to_checksum_address(self.address))
        self.contract = self.w3.eth.contract(address=self.address, abi=safe_artifact("Safe").abi)

    # ---- views
    def owners(self) -> list[Address]:
        return [Address(to_checksum_address(o)) for o in self.contract.functions.getOwners().call()]

    def threshold(self) -> int:
        return int(self.contract.functions.getThreshold().call())

    def nonce(self) -> int:
        return int(self.contract.functions.nonce().call())

    def version(self) -> str:
        return str(self.contract.functions.VERSION().call())

    def is_owner(self, account: str) -> bool:
        return bool(self.contract.functions.isOwner(to_checksum_address(account)).call())

    def transaction_hash(self, tx: SafeTx) -> bytes:
        """The Safe's own getTransactionHash of `tx`."""
        return bytes(self.contract.functions.getTransactionHash(*tx.args(), tx.nonce).call())

    # ---- building and executing
    def build_tx(
        self,
        to: str,
        data: bytes,
        value: int = 0,
        nonce: int | None = None,
        operation: SafeOperation = SafeOperation.CALL,
    ) -> SafeTx:
        """A SafeTx for the Safe's next nonce (or `nonce`)."""
        return SafeTx(
            to=Address(to_checksum_address(to)),
            data=data,
            value=value,
            operation=operation,
            nonce=self.nonce() if nonce is None else nonce,
        )

    def sign(self, tx: SafeTx, owners: Sequence[LocalAccount]) -> bytes:
        """The combined signatures of `owners` over `tx`, ready for execTransaction."""
        chain_id = self.w3.eth.chain_id
        return combine_signatures({o.address: tx.sign(chain_id, self.address, o) for o in owners})

    def exec_transaction(self, tx: SafeTx, signatures: bytes) -> ContractFunction:
        return self.contract.functions.execTransaction(*tx.args(), signatures)

    def execute(self, sender: Sender, tx: SafeTx, owners: Sequence[LocalAccount]) -> TxReceipt:
        """Sign `tx` as `owners`, submit it from `sender`; the receipt (ExecutionFailure raises)."""
        receipt = sender.transact(self.exec_transaction(tx, self.sign(tx, owners)), "Safe.execTransaction")
        if not self.contract.events.ExecutionSuccess().process_receipt(receipt, errors=DISCARD):
            raise TransactionFailed("Safe.execTransaction: no ExecutionSuccess event")
        return receipt


def multi_send_calldata(w3: Web3, multi_send: str, calls: Sequence[tuple[str, bytes]]) -> bytes:
    """`multiSend(transactions)` of MultiSendCallOnly for `calls` (target, call data), each packed
    as Safe's library reads it: operation (uint8, 0: call), to (20 bytes), value (uint256), data
    length (uint256), data. A Safe delegatecalls it, so every call comes from the Safe."""
    packed = b"".join(
        b"\x00"
        + bytes.fromhex(to_checksum_address(to)[2:])
        + (0).to_bytes(32, "big")
        + len(data).to_bytes(32, "big")
        + data
        for to, data in calls
    )
    abi = safe_artifact("MultiSendCallOnly").abi
    library = w3.eth.contract(address=to_checksum_address(multi_send), abi=abi)
    return calldata(library.functions.multiSend(packed))


def calldata(fn: ContractFunction) -> bytes:
    """ABI-encoded call data of `fn` (what a Safe or the timelock forwards)."""
    return bytes.fromhex(fn._encode_transaction_data()[2:])


def setup_data(w3: Web3, singletons: SafeSingletons, owners: Sequence[str], threshold: int) -> bytes:
    """The initializer of a new proxy: setup(owners, threshold, no module call, fallback handler)."""
    safe = w3.eth.contract(abi=safe_artifact("Safe").abi)
    fn = safe.functions.setup(
        [to_checksum_address(o) for o in owners],
        threshold,
        ZERO_ADDRESS,
        b"",
        singletons.fallback_handler,
        ZERO_ADDRESS,
        0,
        ZERO_ADDRESS,
    )
    return calldata(fn)


def create_safe(
    sender: Sender, singletons: SafeSingletons, owners: Sequence[str], threshold: int, salt_nonce: int = 0
) -> SafeContract:
    """A new Safe proxy of `owners` / `threshold` through createProxyWithNonce."""
    if not 1 <= threshold <= len(owners):
        raise ValueError(f"threshold {threshold} outside 1..{len(owners)}")
    w3 = sender.w3
    factory = w3.eth.contract(address=singletons.factory, abi=safe_artifact("SafeProxyFactory").abi)
    initializer = setup_data(w3, singletons, owners, threshold)
    receipt = sender.transact(
        factory.functions.createProxyWithNonce(singletons.singleton, initializer, salt_nonce),
        "SafeProxyFactory.createProxyWithNonce",
    )
    created = factory.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)
    if not created:
        raise TransactionFailed("createProxyWithNonce: no ProxyCreation event")
    return SafeContract(w3, Address(to_checksum_address(created[0]["args"]["proxy"])))
