"""Devnet set-up: deploy with the default-mnemonic accounts and stake the demo providers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import coincurve
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from staking.chain.connect import connect
from staking.chain.contracts import StakingContract, TokenContract
from staking.chain.rpc import RawRpc, RpcError
from staking.chain.sender import Sender
from staking.deploy import RoleHolders, StakingParams, deploy_all
from staking.deploy_governance import governance_record
from staking.deployment import Accounts, Contracts, Deployment, Governance
from staking.devnet.accounts import (
    DETECTOR,
    GOVERNANCE,
    SERVICE,
    devnet_account,
    devnet_shape,
    provider_accounts,
)
from staking.domain.errors import NodeUnreachable, SwarmError
from staking.domain.vocabulary import TOKEN, Address, ProviderClass, Wei

TREASURY_INDEX = 10  # an account of the same public mnemonic that holds nothing else


@dataclass(frozen=True)
class DemoProvider:
    provider_class: ProviderClass
    gpus: int
    stake: Wei


# Accounts #3-#9, in order. Stakes sit above each class minimum (defaults: hardware 1,000 + 500
# per GPU, network operator 50,000, platform user 100 SWARM) so every provider starts "active".
DEMO_PROVIDERS = (
    DemoProvider(ProviderClass.HARDWARE_PROVIDER, 8, Wei(10_000 * TOKEN)),
    DemoProvider(ProviderClass.HARDWARE_PROVIDER, 4, Wei(5_000 * TOKEN)),
    DemoProvider(ProviderClass.HARDWARE_PROVIDER, 2, Wei(3_000 * TOKEN)),
    DemoProvider(ProviderClass.HARDWARE_PROVIDER, 1, Wei(2_000 * TOKEN)),
    DemoProvider(ProviderClass.NETWORK_OPERATOR, 0, Wei(60_000 * TOKEN)),
    DemoProvider(ProviderClass.NETWORK_OPERATOR, 0, Wei(55_000 * TOKEN)),
    DemoProvider(ProviderClass.PLATFORM_USER, 0, Wei(500 * TOKEN)),
)
PROVIDER_ALLOWANCE = Wei(1_000_000 * TOKEN)  # tokens each demo provider receives


def provision_devnet(
    w3: Web3, rpc_url: str, params: StakingParams | None = None, governance: str = "eoa"
) -> Deployment:
    """Deploys, grants the SPEC section 6 roles and registers + stakes the demo providers.
    `governance` "safe" hands governance to the timelock and the two Safes (SPEC section 9) of
    `devnet_shape()`; "eoa" leaves it with account #0. Needs an automining chain (the devnet
    switches to interval mining afterwards)."""
    if governance not in ("eoa", "safe"):
        raise ValueError(f"governance must be eoa or safe, not {governance!r}")
    shape = devnet_shape() if governance == "safe" else None
    deployer = devnet_account(GOVERNANCE)
    service = devnet_account(SERVICE)
    detector = devnet_account(DETECTOR)
    treasury = devnet_account(TREASURY_INDEX)
    roles = RoleHolders(
        governance=Address(deployer.address),
        service=Address(service.address),
        detectors=(Address(detector.address),),
    )
    deployed = deploy_all(
        w3, deployer, roles, treasury.address, params or StakingParams.devnet(), shape=shape
    )
    staking = StakingContract(w3, deployed.staking)
    token = TokenContract(w3, deployed.token)

    providers = provider_accounts()
    gov = Sender(w3, deployer)  # the token's supply went to the deployer
    gov.wait_all([gov.send(token.transfer(p.address, PROVIDER_ALLOWANCE)) for p in providers])
    senders = [Sender(w3, p) for p in providers]
    batch = []
    for sender, demo in zip(senders, DEMO_PROVIDERS, strict=True):
        batch.append(sender.send(token.approve(staking.address, demo.stake), label="approve"))
        batch.append(
            sender.send(staking.register(demo.provider_class, demo.gpus, "ipfs://swarm-demo-provider"))
        )
    gov.wait_all(batch)  # waiting only reads receipts, any sender can do it
    gov.wait_all([s.send(staking.stake(d.stake)) for s, d in zip(senders, DEMO_PROVIDERS, strict=True)])

    return Deployment(
        chain_id=w3.eth.chain_id,
        rpc_url=rpc_url,
        deployed_block=deployed.deployed_block,
        contracts=Contracts(SwarmStaking=deployed.staking, SwarmToken=deployed.token),
        accounts=Accounts(
            # Who holds GOVERNANCE_ROLE: the timelock in the Safe shape.
            governance=deployed.governance.timelock.address if deployed.governance else deployer.address,
            service=service.address,
            detector=detector.address,
            treasury=treasury.address,
            providers=[p.address for p in providers],
        ),
        governance=(
            governance_record(deployed.governance, shape) if deployed.governance and shape else Governance()
        ),
    )


def grant_detectors(w3: Web3, deployment: Deployment, detectors: Sequence[str]) -> None:
    """Grants DETECTOR_ROLE to more `detectors` with governance's key (the devnet's own detector
    is account #2); grants already in place are skipped."""
    staking = StakingContract(w3, deployment.contracts.SwarmStaking)
    gov = Sender(w3, devnet_account(GOVERNANCE))
    gov.wait_all(
        [
            gov.send(staking.grant_role("DETECTOR_ROLE", d), label=f"grant DETECTOR_ROLE to {d}")
            for d in detectors
            if not staking.has_role("DETECTOR_ROLE", d)
        ]
    )


def extra_provider_account(index: int) -> LocalAccount:
    """A deterministic throw-away key for load and fault runs (derived from a public label, so
    it is as public as the mnemonic's keys: devnet only)."""
    return Account.from_key(keccak(text=f"swarm-devnet-extra-provider-{index}"))


def provision_extra_providers(
    w3: Web3,
    deployment: Deployment,
    count: int,
    stake: Wei = Wei(5_000 * TOKEN),
    gpus: int = 4,
) -> list[Address]:
    """Registers and stakes `count` more hardware providers beyond the demo ones, for benchmarks
    and fault runs that need more providers than the mnemonic's ten accounts. Gas money comes
    from the node's set-balance call, tokens from governance. Needs an automining chain."""
    staking = StakingContract(w3, deployment.contracts.SwarmStaking)
    token = TokenContract(w3, deployment.contracts.SwarmToken)
    accounts = [extra_provider_account(i) for i in range(count)]
    set_balance = "anvil_setBalance" if "anvil" in w3.client_version.lower() else "hardhat_setBalance"
    for a in accounts:
        w3.provider.make_request(set_balance, [a.address, hex(10**20)])  # type: ignore[arg-type]
    gov = Sender(w3, devnet_account(GOVERNANCE))
    gov.wait_all([gov.send(token.transfer(a.address, stake), gas=60_000) for a in accounts])
    senders = [Sender(w3, a) for a in accounts]
    batch = []
    for s in senders:
        batch.append(s.send(token.approve(staking.address, stake), gas=60_000))
        batch.append(
            s.send(staking.register(ProviderClass.HARDWARE_PROVIDER, gpus, "ipfs://extra"), gas=200_000)
        )
    gov.wait_all(batch)
    gov.wait_all([s.send(staking.stake(stake), gas=150_000) for s in senders])
    return [Address(a.address) for a in accounts]


# ---------------------------------------------------------------------------- bulk provisioning
# Thousands of providers for load benchmarks: transactions signed locally with precomputed nonces,
# sent in JSON-RPC batches, mined in a few large blocks instead of one block per transaction.

BULK_GAS_PRICE_FLOOR = 10 * 10**9  # 10 gwei: far above a devnet's base fee, which only falls here
BULK_FUNDING = 10**20  # 100 ETH of gas money per account (anvil_setBalance)
BULK_RPC_TIMEOUT = 300.0  # mining a block of thousands of transactions takes a while
TRANSFER = keccak(text="transfer(address,uint256)")[:4]


class ProvisionError(SwarmError, RuntimeError):
    pass


class BulkMiner:
    """Pre-signed legacy transactions sent in JSON-RPC batches of `batch`, then mined with
    `evm_mine` until the node's pool is empty. Anvil only (`txpool_status`, `anvil_setBalance`);
    use inside `manual_mining`, which turns automine off."""

    def __init__(self, rpc_url: str, batch: int = 500) -> None:
        self.rpc = RawRpc(connect(rpc_url, timeout=BULK_RPC_TIMEOUT))
        self.batch = batch
        self.chain_id = int(self.rpc.call("eth_chainId", []), 16)
        latest = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        self.gas_price = max(BULK_GAS_PRICE_FLOOR, 4 * int(latest.get("baseFeePerGas") or "0x0", 16))
        self.blocks = 0  # mined so far
        self._keys: dict[str, coincurve.PrivateKey] = {}

    def call_batched(self, method: str, params: Sequence[list[Any]]) -> list[Any]:
        """`method` once per parameter list, in JSON-RPC batches; any error raises."""
        out: list[Any] = []
        for i in range(0, len(params), self.batch):
            results = self.rpc.batch([(method, p) for p in params[i : i + self.batch]])
            errors = [r for r in results if isinstance(r, RpcError)]
            if errors:
                raise ProvisionError(f"{len(errors)} {method} calls failed, the first: {errors[0]}")
            out += results
        return out

    def nonces(self, addresses: Sequence[str]) -> list[int]:
        """Pending nonces of `addresses`."""
        counts = self.call_batched("eth_getTransactionCount", [[a, "pending"] for a in addresses])
        return [int(c, 16) for c in counts]

    def sign(self, account: LocalAccount, to: str, data: str | bytes, nonce: int, gas: int) -> bytes:
        """A signed legacy (EIP-155) transaction calling `to` with `data`, as raw bytes: RLP and
        libsecp256k1 directly, ~10x faster than `LocalAccount.sign_transaction` (same bytes)."""
        key = self._keys.get(account.address)
        if key is None:
            key = self._keys[account.address] = coincurve.PrivateKey(bytes(account.key))
        fields: list[int | bytes] = [nonce, self.gas_price, gas, bytes.fromhex(to[2:]), 0, _bytes(data)]
        signature = key.sign_recoverable(keccak(_rlp_list([*fields, self.chain_id, 0, 0])), hasher=None)
        v = signature[64] + 35 + 2 * self.chain_id
        return _rlp_list([*fields, v, signature[:32].lstrip(b"\0"), signature[32:64].lstrip(b"\0")])

    def send_and_mine(self, raws: Sequence[bytes], check_receipts: bool = True) -> list[str]:
        """Sends every raw transaction and mines until none is pending; returns their hashes.
        Raises when the node refuses one, when a mined block takes none of those pending (a nonce
        gap, an under-priced transaction) and, with `check_receipts`, when any reverted. Anvil
        answers a receipt in time proportional to its block's size: for thousands of
        transactions, pass `check_receipts=False` and check their effect (events, state) instead."""
        hashes = [
            str(h) for h in self.call_batched("eth_sendRawTransaction", [["0x" + r.hex()] for r in raws])
        ]
        while True:
            status = self.rpc.call("txpool_status", [])
            if int(status["pending"], 16) + int(status["queued"], 16) == 0:
                break
            self.rpc.call("evm_mine", [])
            self.blocks += 1
            if int(self.rpc.call("eth_getBlockTransactionCountByNumber", ["latest"]), 16) == 0:
                raise ProvisionError(f"a mined block took none of the pending transactions: {status}")
        if check_receipts:
            receipts = self.call_batched("eth_getTransactionReceipt", [[h] for h in hashes])
            failed = [
                h for h, r in zip(hashes, receipts, strict=True) if r is None or int(r["status"], 16) != 1
            ]
            if failed:
                raise ProvisionError(
                    f"{len(failed)} of {len(raws)} transactions failed, the first: {failed[0]}"
                )
        return hashes


def _rlp_length(length: int, short: int) -> bytes:
    if length <= 55:
        return bytes([short + length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([short + 55 + len(encoded)]) + encoded


def _rlp_list(items: list[int | bytes]) -> bytes:
    """RLP of a flat list of unsigned integers and byte strings (what a transaction is)."""
    parts = []
    for item in items:
        b = item.to_bytes((item.bit_length() + 7) // 8, "big") if isinstance(item, int) else item
        parts.append(b if len(b) == 1 and b[0] < 0x80 else _rlp_length(len(b), 0x80) + b)
    payload = b"".join(parts)
    return _rlp_length(len(payload), 0xC0) + payload


def _bytes(data: str | bytes) -> bytes:
    return bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data


@contextmanager
def manual_mining(rpc_url: str, block_gas_limit: int = 300_000_000, batch: int = 500) -> Iterator[BulkMiner]:
    """Automine off and a large block gas limit while the block runs (Anvil); automine and the
    previous gas limit come back afterwards. Needs an automining chain."""
    miner = BulkMiner(rpc_url, batch)
    rpc = miner.rpc
    previous_limit = int(rpc.call("eth_getBlockByNumber", ["latest", False])["gasLimit"], 16)
    rpc.call("evm_setAutomine", [False])
    try:
        rpc.call("evm_setBlockGasLimit", [hex(block_gas_limit)])
        yield miner
    finally:
        with suppress(NodeUnreachable, RpcError):  # a dead node has nothing left to restore
            rpc.call("evm_setBlockGasLimit", [hex(previous_limit)])
            rpc.call("evm_setAutomine", [True])


ProviderShape = Callable[[int], tuple[ProviderClass, int, Wei]]


def provision_providers_bulk(
    w3: Web3,
    deployment: Deployment,
    count: int,
    shape: ProviderShape | None = None,
    first_index: int = 0,
    block_gas_limit: int = 300_000_000,
    batch: int = 500,
    progress: Callable[[str], None] | None = None,
) -> list[Address]:
    """`provision_extra_providers` for thousands (Anvil, automining): registers and stakes `count`
    providers with the same deterministic keys (`extra_provider_account(first_index + i)`), each
    with the class, GPUs and stake `shape(i)` gives (default: hardware, 4 GPUs, 5,000 SWARM).

    Gas money by anvil_setBalance in batches; tokens transferred from governance, which first
    mints any shortfall (it is the devnet token's minter). Two rounds of pre-signed transactions
    (transfer + approve + register, then stake), each mined in large blocks. Checked at the end:
    every provider's `Staked` event is on chain (a stake cannot succeed unless its transfer,
    approval and registration did)."""
    shape = shape or (lambda _i: (ProviderClass.HARDWARE_PROVIDER, 4, Wei(5_000 * TOKEN)))
    say = progress or (lambda _m: None)
    rpc_url = str(getattr(w3.provider, "endpoint_uri", deployment.rpc_url))
    staking = StakingContract(w3, deployment.contracts.SwarmStaking)
    token = TokenContract(w3, deployment.contracts.SwarmToken)
    governance = devnet_account(GOVERNANCE)
    accounts = [extra_provider_account(first_index + i) for i in range(count)]
    shapes = [shape(i) for i in range(count)]
    need = sum(s[2] for s in shapes)
    with manual_mining(rpc_url, block_gas_limit, batch) as miner:
        from_block = int(miner.rpc.call("eth_blockNumber", []), 16) + 1
        miner.call_batched("anvil_setBalance", [[a.address, hex(BULK_FUNDING)] for a in accounts])
        gov_nonce = miner.nonces([governance.address])[0]
        have = token.balance_of(governance.address)
        if have < need:
            mint = token.contract.encode_abi("mint", args=[governance.address, need - have])
            miner.send_and_mine([miner.sign(governance, token.address, mint, gov_nonce, 100_000)])
            gov_nonce += 1
        nonces = miner.nonces([a.address for a in accounts])
        approve: dict[int, str] = {}
        register: dict[tuple[ProviderClass, int], str] = {}
        stake: dict[int, str] = {}
        first: list[bytes] = []
        second: list[bytes] = []
        for i, (account, (cls, gpus, amount)) in enumerate(zip(accounts, shapes, strict=True)):
            if amount not in approve:
                approve[amount] = token.contract.encode_abi("approve", args=[staking.address, amount])
                stake[amount] = staking.contract.encode_abi("stake", args=[amount])
            if (cls, gpus) not in register:
                register[(cls, gpus)] = staking.contract.encode_abi(
                    "register", args=[int(cls), gpus, "ipfs://swarm-bulk-provider"]
                )
            transfer = TRANSFER + bytes(12) + bytes.fromhex(account.address[2:]) + amount.to_bytes(32, "big")
            first.append(miner.sign(governance, token.address, transfer, gov_nonce + i, 60_000))
            first.append(miner.sign(account, token.address, approve[amount], nonces[i], 60_000))
            first.append(miner.sign(account, staking.address, register[(cls, gpus)], nonces[i] + 1, 200_000))
            second.append(miner.sign(account, staking.address, stake[amount], nonces[i] + 2, 150_000))
        say(f"signed {len(first) + len(second):,} transactions")
        miner.send_and_mine(first, check_receipts=False)
        miner.send_and_mine(second, check_receipts=False)
        to_block = int(miner.rpc.call("eth_blockNumber", []), 16)
        say(f"transfers, approvals, registrations and stakes mined in {miner.blocks} blocks")
        staked_topic = "0x" + keccak(text="Staked(address,uint256,uint256)").hex()
        logs = miner.rpc.call(
            "eth_getLogs",
            [
                {
                    "address": staking.address,
                    "fromBlock": hex(from_block),
                    "toBlock": hex(to_block),
                    "topics": [staked_topic],
                }
            ],
        )
        staked = {Web3.to_checksum_address("0x" + log["topics"][1][-40:]) for log in logs}
        missing = [a.address for a in accounts if a.address not in staked]
        if missing:
            raise ProvisionError(
                f"{len(missing)} of {count} providers have no Staked event, e.g. {missing[0]}"
            )
    return [Address(a.address) for a in accounts]
