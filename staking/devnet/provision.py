"""Devnet set-up: deploy with the default-mnemonic accounts and stake the demo providers."""

from __future__ import annotations

from dataclasses import dataclass

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
