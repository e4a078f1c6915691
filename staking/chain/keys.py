"""Loading a signer: an eth-account encrypted keystore everywhere, a raw key on the devnet only.

Key material never appears in logs or error messages.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from staking.devnet.accounts import DEVNET_CHAIN_ID


class SignerError(RuntimeError):
    pass


def load_keystore(keystore: Path, password_file: Path | None, prompt: bool = True) -> LocalAccount:
    try:
        encrypted = json.loads(keystore.read_text())
    except FileNotFoundError:
        raise SignerError(f"keystore {keystore} not found") from None
    except json.JSONDecodeError:
        raise SignerError(f"keystore {keystore} is not JSON") from None
    if password_file is not None:
        try:
            password = password_file.read_text().rstrip("\n")
        except FileNotFoundError:
            raise SignerError(f"password file {password_file} not found") from None
    elif prompt:
        password = getpass.getpass(f"password for {keystore}: ")
    else:
        raise SignerError("no password: set SWARM_SIGNER_PASSWORD_FILE")
    try:
        return Account.from_key(Account.decrypt(encrypted, password))
    except ValueError:
        raise SignerError(f"could not decrypt {keystore}: wrong password or corrupt keystore") from None


def load_signer(
    chain_id: int,
    keystore: Path | None,
    password_file: Path | None,
    raw_key: str | None,
    prompt: bool = True,
) -> LocalAccount:
    """The signer for `chain_id`: the keystore if given, else a raw key if on the devnet."""
    if keystore is not None:
        return load_keystore(keystore, password_file, prompt)
    if raw_key is not None:
        if chain_id != DEVNET_CHAIN_ID:
            raise SignerError(
                f"a raw SWARM_SIGNER_KEY is accepted on the devnet (chain {DEVNET_CHAIN_ID}) only; "
                f"chain {chain_id} needs SWARM_SIGNER_KEYSTORE"
            )
        try:
            return Account.from_key(raw_key)
        except Exception:
            raise SignerError("SWARM_SIGNER_KEY is not a valid private key") from None
    raise SignerError("no signer configured: set SWARM_SIGNER_KEYSTORE and SWARM_SIGNER_PASSWORD_FILE")
