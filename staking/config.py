"""Settings: one pydantic-settings class, read once at start-up and passed down.

Every variable is prefixed `SWARM_` and may also come from a `.env` file. Secrets are
`SecretStr` and are excluded from `Settings.loggable()`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWARM_", env_file=".env", extra="ignore")

    rpc_url: str | None = None  # default: the deployment file's rpc_url
    database_url: str = "sqlite:///var/swarm-staking.db"
    deployment: Path = Path("deployments/localhost.json")
    artifacts_dir: Path = REPO_ROOT / "artifacts"

    policy_file: Path | None = None  # default: staking/policy/default.toml
    confirmations: int = 0  # blocks behind head the indexer stays (0 on the devnet)
    indexer_initial_span: int = 2_000  # blocks per eth_getLogs page at start (adapts)
    indexer_max_span: int = 50_000
    # GET /readyz fails when the indexer is more than this many blocks (beyond `confirmations`)
    # behind the chain head.
    max_indexer_lag_blocks: int = 20
    log_level: str = "INFO"
    log_json: bool | None = None  # default: JSON when stderr is not a terminal

    # Webhooks for decisions, isolations, investigations and failures (comma-separated URLs).
    webhook_urls: str = ""
    webhook_secret: SecretStr | None = None

    # The service signer. A keystore (with its password in a file) everywhere; a raw key only on
    # the devnet (chain id 31337), checked where the signer is loaded.
    signer_keystore: Path | None = None
    signer_password_file: Path | None = None
    signer_key: SecretStr | None = None

    def loggable(self) -> dict[str, object]:
        """Settings safe to print: secret values are replaced by whether they are set."""
        out: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if name in SECRET_FIELDS:
                out[name] = "<set>" if value is not None else None
            else:
                out[name] = str(value) if isinstance(value, Path) else value
        return out


SECRET_FIELDS = frozenset({"signer_key", "webhook_secret"})
