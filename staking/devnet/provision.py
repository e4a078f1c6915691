"""Devnet set-up: deploy with the default-mnemonic accounts and stake the demo providers."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from staking.chain.contracts import StakingContract, TokenContract
from staking.chain.sender import Sender
from staking.deploy import RoleHolders, StakingParams, deploy_all
from staking.deployment import Accounts, Contracts, Deployment
from staking.devnet.accounts import DETECTOR, GOVERNANCE, SERVICE, devnet_account, provider_accounts
from staking.types import TOKEN, Address, ProviderClass, Wei

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


def provision_devnet(w3: Web3, rpc_url: str, params: StakingParams | None = None) -> Deployment:
    """Deploys, grants the SPEC section 6 roles and registers + stakes the demo providers.
    Needs an automining chain (the devnet switches to interval mining afterwards)."""
    governance = devnet_account(GOVERNANCE)
    service = devnet_account(SERVICE)
    detector = devnet_account(DETECTOR)
    treasury = devnet_account(TREASURY_INDEX)
    roles = RoleHolders(
        governance=Address(governance.address),
        service=Address(service.address),
        detectors=(Address(detector.address),),
    )
    deployed = deploy_all(w3, governance, roles, treasury.address, params or StakingParams.devnet())
    staking = StakingContract(w3, deployed.staking)
    token = TokenContract(w3, deployed.token)

    providers = provider_accounts()
    gov = Sender(w3, governance)
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
            governance=governance.address,
            service=service.address,
            detector=detector.address,
            treasury=treasury.address,
            providers=[p.address for p in providers],
        ),
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
