"""Accounts of the public default Anvil/Hardhat mnemonic (devnet only; these keys are public).

SPEC section 6: #0 governance, #1 service signer, #2 detector, #3-#9 demo providers.
"""

from __future__ import annotations

from functools import lru_cache

from eth_account import Account
from eth_account.signers.local import LocalAccount

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"

GOVERNANCE = 0
SERVICE = 1
DETECTOR = 2
FIRST_PROVIDER = 3
ACCOUNT_COUNT = 10


@lru_cache(maxsize=64)
def devnet_account(index: int) -> LocalAccount:
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEFAULT_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def provider_accounts() -> list[LocalAccount]:
    return [devnet_account(i) for i in range(FIRST_PROVIDER, ACCOUNT_COUNT)]
