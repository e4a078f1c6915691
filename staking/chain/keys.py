"""Loading a signer: an eth-account encrypted keystore everywhere, a raw key on the devnet only.

Key material never appears in logs or error messages. Keystores, password files and other secret
files (`read_secret_file`) are refused when their permissions let the group or others read or
write them: the error names the file and the fix, never its contents.
"""

from __future__ import annotations

import getpass
import json
import os
import stat
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from staking.domain.errors import SwarmError
from staking.domain.vocabulary import DEVNET_CHAIN_ID


class SignerError(SwarmError, RuntimeError):
    pass


def read_secret_file(path: Path, what: str) -> str:
    """The text of a file holding a secret (`what` names it in errors: "keystore", "password
    file"...). SignerError, naming the path and the fix, when it is missing, not a regular file, or
    readable or writable by the group or others (`mode & 0o077`): a secret another local user can
    read is already leaked, and one they can write lets them swap the key."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SignerError(f"{what} {path} not found") from None
    except OSError as exc:
        raise SignerError(f"{what} {path} cannot be read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)  # of the file opened, not of whatever the path names later
        if not stat.S_ISREG(st.st_mode):
            raise SignerError(f"{what} {path} is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if os.name == "posix" and mode & 0o077:
            raise SignerError(
                f"{what} {path} is accessible by group or others (mode {mode:04o}); "
                f"run `chmod 600 {path}` (owner read/write only)"
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read()
    finally:
        os.close(fd)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SignerError(f"{what} {path} is not UTF-8 text") from None


def load_keystore(keystore: Path, password_file: Path | None, prompt: bool = True) -> LocalAccount:
    text = read_secret_file(keystore, "keystore")
    try:
        encrypted = json.loads(text)
    except json.JSONDecodeError:
        raise SignerError(f"keystore {keystore} is not JSON") from None
    if password_file is not None:
        password = read_secret_file(password_file, "password file").rstrip("\n")
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
