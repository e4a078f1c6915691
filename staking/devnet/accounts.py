"""Accounts of the public default Anvil/Hardhat mnemonic (devnet only; these keys are public).

SPEC section 6: #0 governance, #1 service signer, #2 detector, #3-#9 demo providers; #10 the
treasury. With `--governance safe` (SPEC section 9) #0 only deploys: #11-#13 own the governance
Safe and #14-#16 the council Safe, 2 of 3 each.
"""

from __future__ import annotations

from functools import lru_cache

from eth_account import Account
from eth_account.signers.local import LocalAccount

from staking.deploy_governance import SafeShape
from staking.domain.vocabulary import Address

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"

GOVERNANCE = 0
SERVICE = 1
DETECTOR = 2
FIRST_PROVIDER = 3
ACCOUNT_COUNT = 10
GOVERNANCE_OWNERS = (11, 12, 13)
COUNCIL_OWNERS = (14, 15, 16)
DEVNET_THRESHOLD = 2
DEVNET_MIN_DELAY = 120  # the timelock's delay on the devnet: two minutes (production: two days)


@lru_cache(maxsize=64)
def devnet_account(index: int) -> LocalAccount:
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEFAULT_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def devnet_shape() -> SafeShape:
    """The devnet's production-shaped governance: default-mnemonic owners, 2 of 3, 2 minutes."""
    return SafeShape(
        owners=tuple(Address(devnet_account(i).address) for i in GOVERNANCE_OWNERS),
        threshold=DEVNET_THRESHOLD,
        council_owners=tuple(Address(devnet_account(i).address) for i in COUNCIL_OWNERS),
        council_threshold=DEVNET_THRESHOLD,
        min_delay=DEVNET_MIN_DELAY,
    )


def provider_accounts() -> list[LocalAccount]:
    return [devnet_account(i) for i in range(FIRST_PROVIDER, ACCOUNT_COUNT)]
