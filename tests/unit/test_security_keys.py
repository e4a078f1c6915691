"""Keys and secrets at rest (SECURITY.md, "Keys and secrets"): keystores, password files and other
secret files are refused when the group or others may read or write them, with one line naming
the file and the fix and never the contents; a raw SWARM_SIGNER_KEY works on the devnet only,
in the service, the CLI and the library alike; settings errors never quote what was given."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from eth_account import Account

from staking.chain.keys import SignerError, load_signer, read_secret_file
from staking.config import ConfigError, Settings
from staking.devnet.accounts import devnet_account

pytestmark = pytest.mark.unit

PASSWORD = "pw-Secr3t-horse-battery"
KEY = devnet_account(1).key
KEY_HEX = bytes(KEY).hex()
LOOSE_MODES = (0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666, 0o700 | 0o070)


def secret_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def keystore_pair(tmp_path: Path, password: str = PASSWORD) -> tuple[Path, Path]:
    keystore = json.dumps(Account.encrypt(KEY, PASSWORD, kdf="pbkdf2", iterations=2))
    return (
        secret_file(tmp_path / "service.keystore.json", keystore),
        secret_file(tmp_path / "password.txt", password + "\n"),
    )


def shows_part_of(secret_hex: str, text: str, window: int = 16) -> bool:
    """Whether `text` holds any `window` hex digits in a row of `secret_hex` (pydantic, for one,
    shortens long values to their ends: a partial key is a leak too)."""
    lowered = text.lower()
    return any(secret_hex[i : i + window] in lowered for i in range(len(secret_hex) - window + 1))


def assert_safe_error(message: str, path: Path, *secrets: str) -> None:
    assert "\n" not in message, "one line"
    assert str(path) in message and "chmod 600" in message, message
    for secret in (*secrets, PASSWORD):
        assert secret.lower() not in message.lower(), "the error must not echo secret contents"
    assert not shows_part_of(KEY_HEX, message)


@pytest.mark.parametrize("mode", LOOSE_MODES, ids=[f"{m:04o}" for m in LOOSE_MODES])
def test_a_keystore_or_password_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    keystore, password = keystore_pair(tmp_path)
    keystore.chmod(mode)
    with pytest.raises(SignerError) as exc:
        load_signer(1, keystore, password, None)
    assert_safe_error(str(exc.value), keystore, keystore.read_text()[:40])
    keystore.chmod(0o600)
    password.chmod(mode)
    with pytest.raises(SignerError) as exc:
        load_signer(1, keystore, password, None)
    assert_safe_error(str(exc.value), password)


def test_owner_only_secret_files_load(tmp_path: Path) -> None:
    keystore, password = keystore_pair(tmp_path)
    assert load_signer(1, keystore, password, None).address == devnet_account(1).address
    keystore.chmod(0o400)
    password.chmod(0o400)
    assert load_signer(1, keystore, password, None).address == devnet_account(1).address
    with pytest.raises(SignerError, match="not a regular file"):
        read_secret_file(tmp_path, "keystore")
    with pytest.raises(SignerError, match="not found"):
        read_secret_file(tmp_path / "missing", "keystore")


def test_a_wrong_password_error_names_neither_password(tmp_path: Path) -> None:
    keystore, password = keystore_pair(tmp_path, password="wrong-" + PASSWORD)
    with pytest.raises(SignerError, match="wrong password") as exc:
        load_signer(1, keystore, password, None)
    assert PASSWORD not in str(exc.value)


@pytest.mark.parametrize("name", ["webhook_secret", "admin_token"])
def test_secrets_read_from_files_need_owner_only_files_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    value = "file-secret-" + "9" * 20
    path = secret_file(tmp_path / name, value + "\n", 0o644)
    env = f"SWARM_{name.upper()}"
    monkeypatch.setenv(f"{env}_FILE", str(path))
    with pytest.raises(SignerError) as exc:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert_safe_error(str(exc.value), path, value)
    path.chmod(0o600)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    secret = getattr(settings, name)
    assert secret is not None and secret.get_secret_value() == value
    assert settings.loggable()[name] == "<set>" and value not in repr(settings)
    monkeypatch.setenv(env, "another-value-of-sixteen+")
    with pytest.raises(ConfigError, match="not both"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_settings_errors_never_quote_what_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARM_SIGNER_KEY", "0x" + KEY_HEX)
    monkeypatch.setenv("SWARM_ADMIN_TOKEN", "short-token")
    with pytest.raises(ConfigError) as short:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "at least 16" in str(short.value) and "short-token" not in str(short.value)
    monkeypatch.delenv("SWARM_ADMIN_TOKEN")
    monkeypatch.setenv("SWARM_CONFIRMATIONS", "0x" + KEY_HEX)  # a key pasted into the wrong line
    with pytest.raises(Exception) as bad:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "confirmations" in str(bad.value) and not shows_part_of(KEY_HEX, str(bad.value))


def test_a_raw_signer_key_is_for_the_devnet_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = "0x" + KEY_HEX
    assert load_signer(31337, None, None, raw).address == devnet_account(1).address
    with pytest.raises(SignerError, match="devnet") as exc:
        load_signer(1, None, None, raw)
    assert KEY_HEX not in str(exc.value)
    with pytest.raises(SignerError, match="not a valid private key") as exc:
        load_signer(31337, None, None, raw + "zz")
    assert KEY_HEX not in str(exc.value)

    # The service's worker ...
    from staking.service import service_signer

    for chain_id, ok in ((31337, True), (11155111, False)):
        ctx = SimpleNamespace(
            settings=Settings(signer_key=raw, _env_file=None),  # type: ignore[call-arg]
            deployment=SimpleNamespace(chain_id=chain_id),
        )
        if ok:
            assert service_signer(ctx).address == devnet_account(1).address  # type: ignore[arg-type]
        else:
            with pytest.raises(SignerError, match="devnet"):
                service_signer(ctx)  # type: ignore[arg-type]

    # ... and the governance / detector CLI.
    from staking.cli.chainops import load_cli_signer

    for name in ("SWARM_SIGNER_KEYSTORE", "SWARM_SIGNER_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWARM_SIGNER_KEY", raw)
    mainnet = SimpleNamespace(chain_id=1, accounts=SimpleNamespace(governance=devnet_account(0).address))
    with pytest.raises(typer.Exit):
        load_cli_signer(mainnet, None, None, "governance")  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "devnet" in err and KEY_HEX not in err.lower()


def test_loggable_settings_hide_secrets_and_credentials_in_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARM_SIGNER_KEY", "0x" + KEY_HEX)
    monkeypatch.setenv("SWARM_ADMIN_TOKEN", "admin-token-" + "7" * 16)
    monkeypatch.setenv("SWARM_WEBHOOK_SECRET", "webhook-secret-value")
    monkeypatch.setenv("SWARM_DATABASE_URL", "postgresql://swarm:db-Passw0rd@db.internal:5432/swarm")
    monkeypatch.setenv("SWARM_RPC_URL", "https://mainnet.example-rpc.io/v3/rpc-api-key-123")
    monkeypatch.setenv("SWARM_WEBHOOK_URLS", "https://hooks.example/a?token=hook-token-1,http://10.0.0.2/b")
    shown = repr(Settings(_env_file=None).loggable())  # type: ignore[call-arg]
    for secret in ("7" * 16, "webhook-secret-value", "db-Passw0rd", "rpc-api-key-123", "hook-token-1"):
        assert secret not in shown
    assert not shows_part_of(KEY_HEX, shown)
    assert "db.internal:5432" in shown and "mainnet.example-rpc.io" in shown and "10.0.0.2" in shown
