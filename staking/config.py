"""Settings: one pydantic-settings class, read once at start-up and passed down.

Every variable is prefixed `SWARM_` and may also come from a `.env` file. Secrets are
`SecretStr` and are excluded from `Settings.loggable()`; the admin token and the webhook secret may
also come from a file (`SWARM_ADMIN_TOKEN_FILE`, `SWARM_WEBHOOK_SECRET_FILE`), which must not be
readable by group or others (see `staking.chain.keys.read_secret_file`). Validation errors never
quote the values given (`hide_input_in_errors`): a typo next to a key must not print the key.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from staking.domain.errors import SwarmError

REPO_ROOT = Path(__file__).resolve().parent.parent
KIB = 1024
MIN_ADMIN_TOKEN = 16  # characters


class ConfigError(SwarmError, RuntimeError):
    """A setting is unusable. Not a ValueError on purpose: pydantic would wrap a ValueError into a
    ValidationError that quotes every input value, secrets included."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SWARM_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

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

    # Scale-out: the worker and the indexer each have one leader per database; other processes of
    # the role stand by. The leader renews its lease every third of this; a standby takes over at
    # the latest this long after the leader stops renewing (at once when the leader's process dies).
    worker_lease_seconds: float = Field(default=10.0, ge=1.0, le=600.0)
    worker_standby_poll_seconds: float = Field(default=1.0, gt=0.0, le=60.0)

    # Webhooks for decisions, isolations, investigations and failures (comma-separated URLs).
    webhook_urls: str = ""
    webhook_secret: SecretStr | None = None
    webhook_secret_file: Path | None = None  # instead of webhook_secret: a file with mode 600

    # Bearer token for the sensitive reads (`/metrics`, `/v1/investigations`). Unset: those stay
    # open (SPEC compatibility on the devnet); the API warns at start-up off the devnet.
    admin_token: SecretStr | None = None
    admin_token_file: Path | None = None  # instead of admin_token: a file with mode 600
    # Browser origins allowed to call the API cross-origin (comma-separated, e.g.
    # "https://dash.example.org"); empty (the default): no CORS headers at all.
    cors_origins: str = ""

    # Request limits. A verdict is < 3 KiB even with a 2 KiB evidence_uri; the largest performance
    # batch (1,000 reports of ~130 bytes) ~130 KiB; the endpoint itself refuses more than 256 KiB.
    max_verdict_body_bytes: int = Field(default=16 * KIB, ge=KIB, le=1024 * KIB)
    max_performance_body_bytes: int = Field(default=256 * KIB, ge=KIB, le=256 * KIB)
    max_json_depth: int = Field(default=32, ge=4, le=512)  # verdicts nest 1 deep, batches 3
    # Per-detector token bucket on POST /v1/verdicts and /v1/performance (after the signature is
    # recovered; replays count). The defaults pass the latency benchmark (8 clients posting 500
    # verdicts at ~150/s as one detector) untouched and still cap a runaway or stolen detector key.
    # 0 turns the limit off.
    intake_rate_per_s: float = Field(default=500.0, ge=0)
    intake_burst: int = Field(default=1_000, ge=0)
    # Per-client-IP bucket on the same endpoints, before any signature work. Off by default (0):
    # behind a reverse proxy every detector may share one address.
    intake_ip_rate_per_s: float = Field(default=0.0, ge=0)
    intake_ip_burst: int = Field(default=2_000, ge=0)

    # The service signer. A keystore (with its password in a file) everywhere; a raw key only on
    # the devnet (chain id 31337), checked where the signer is loaded.
    signer_keystore: Path | None = None
    signer_password_file: Path | None = None
    signer_key: SecretStr | None = None

    @model_validator(mode="after")
    def _secrets_from_files(self) -> Settings:
        from staking.chain.keys import read_secret_file

        for name in ("admin_token", "webhook_secret"):
            path = getattr(self, f"{name}_file")
            if path is None:
                continue
            if getattr(self, name) is not None:
                env = f"SWARM_{name.upper()}"
                raise ConfigError(f"set {env} or {env}_FILE, not both")
            value = read_secret_file(path, name.replace("_", " ") + " file").strip()
            setattr(self, name, SecretStr(value))
        if self.admin_token is not None and len(self.admin_token.get_secret_value()) < MIN_ADMIN_TOKEN:
            raise ConfigError(
                f"SWARM_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN} characters "
                "(make one with `openssl rand -hex 32`)"
            )
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    def loggable(self) -> dict[str, object]:
        """Settings safe to print: secret values are replaced by whether they are set, and URLs
        lose what may carry a credential (a database password; an RPC provider's key in the
        path or query; a webhook's token)."""
        out: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if name in SECRET_FIELDS:
                out[name] = "<set>" if value is not None else None
            elif name in URL_FIELDS and value:
                out[name] = ",".join(redact_url(u.strip()) for u in str(value).split(","))
            else:
                out[name] = str(value) if isinstance(value, Path) else value
        return out


SECRET_FIELDS = frozenset({"signer_key", "webhook_secret", "admin_token"})
URL_FIELDS = frozenset({"rpc_url", "database_url", "webhook_urls"})


def redact_url(url: str) -> str:
    """`scheme://host[:port]` of `url` (user, password, path and query replaced by `…`), or the
    SQLite file path unchanged."""
    from urllib.parse import urlsplit

    if url.startswith("sqlite"):
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    userinfo = "…@" if parts.username or parts.password else ""
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{userinfo}{host}{port}{rest}"
