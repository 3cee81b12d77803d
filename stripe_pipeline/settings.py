"""The project's configuration: environment variables (and a `.env` file), read when asked for.

Nothing here runs at import time, so tests build settings against temporary paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_CONNECT_BASE = "https://connect.stripe.com"
# The Stripe API version every request sends; the SDK's own pin, so objects parse as it expects.
STRIPE_API_VERSION = "2026-10-28.endive"

_TRUE = {"1", "true", "yes", "on"}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and what to set."""


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in _TRUE


@dataclass(frozen=True)
class Settings:
    stripe_client_secret: str = field(default="", repr=False)
    stripe_client_id: str = ""
    stripe_webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    connect_enabled: bool = False
    catalog_write_enabled: bool = False
    api_base: str = DEFAULT_API_BASE
    connect_base: str = DEFAULT_CONNECT_BASE
    data_dir: Path = Path("data")
    warehouse_path: Path = Path("data/warehouse.duckdb")
    # `postgresql://...`: the warehouse is that database instead of the DuckDB file (dlt's
    # postgres destination, dbt's postgres target, BI reads its `marts` schema directly).
    warehouse_url: str = field(default="", repr=False)
    serving_dir: Path = Path("data/serving")
    ops_database_url: str = "sqlite:///data/ops.sqlite"
    app_database_url: str = ""
    platform_project_id: str = "default"
    # Requests per second per Stripe account; 0 picks Stripe's own limit for the key's mode.
    rate_limit: float = 0.0
    operator_token: str = field(default="", repr=False)
    listener_public_url: str = "http://127.0.0.1:8000"
    # The listener refuses webhook bodies over this many bytes (Stripe's events are far smaller).
    webhook_max_body_bytes: int = 512 * 1024
    # Seconds a client may take to send a request's headers / a webhook's body (slow clients).
    listener_header_timeout_s: int = 10
    webhook_body_timeout_s: int = 10
    dbt_target: str = "duckdb"
    # Runs the nightly sync is split into (account batches). DuckDB has one writer, so 1; on
    # Postgres several batches land at once, as far as the run queue's tag limits allow.
    sync_runs: int = 1
    # A batch run's accounts per dlt load (a kill loses at most one load's accounts) and
    # accounts fetched at once (each under its own rate limit).
    sync_accounts_per_load: int = 250
    sync_accounts_at_once: int = 16

    @property
    def livemode(self) -> bool:
        return self.stripe_client_secret.startswith(("sk_live_", "rk_live_"))

    @property
    def on_postgres(self) -> bool:
        return bool(self.warehouse_url)

    def dbt_postgres_env(self) -> dict[str, str]:
        """WAREHOUSE_URL as the variables dbt's `postgres` profile reads (dbt_project/profiles.yml)."""
        from urllib.parse import unquote, urlsplit

        url = urlsplit(self.warehouse_url)
        return {
            "DBT_POSTGRES_HOST": url.hostname or "127.0.0.1",
            "DBT_POSTGRES_PORT": str(url.port or 5432),
            "DBT_POSTGRES_USER": unquote(url.username or "postgres"),
            "DBT_POSTGRES_PASSWORD": unquote(url.password or ""),
            "DBT_POSTGRES_DATABASE": (url.path or "/postgres").lstrip("/") or "postgres",
        }

    @property
    def requests_per_second(self) -> float:
        """Stripe allows 100 requests/s per account in live mode and 25 in test mode."""
        if self.rate_limit > 0:
            return self.rate_limit
        return 100.0 if self.livemode else 25.0

    def require_secret_key(self) -> str:
        if not self.stripe_client_secret:
            raise ConfigError(
                "STRIPE_CLIENT_SECRET is not set: put the platform's secret key (sk_test_... or "
                "sk_live_...) in the environment or in .env"
            )
        return self.stripe_client_secret

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)


def _positive_int(values: dict[str, str], name: str, default: int) -> int:
    raw = values.get(name) or ""
    if not raw:
        return default
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if number <= 0:
        raise ConfigError(f"{name} must be a positive whole number, got {raw!r}")
    return number


def _warehouse_url(raw: str) -> str:
    url = raw.strip()
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "WAREHOUSE_URL must be a Postgres URL (postgresql://user:password@host:5432/db); "
            "leave it unset to use the DuckDB file at WAREHOUSE_PATH"
        )
    return url


def _ops_database_url(values: dict[str, str], data_dir: Path) -> str:
    url = values.get("OPS_DATABASE_URL") or f"sqlite:///{data_dir / 'ops.sqlite'}"
    from stripe_pipeline.ops_store.urls import resolve_ops_url

    # Resolved once here, so every reader of the ops store (the listener, the sensors, the copy
    # into the warehouse) gets a driver that is installed, e.g. psycopg2 for postgresql+psycopg://.
    try:
        return resolve_ops_url(url).render_as_string(hide_password=False)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def load_settings(env: dict[str, str] | None = None, dotenv_path: str | Path = ".env") -> Settings:
    """Settings from `env` (default: os.environ) over the values of a `.env` file, if present."""
    values: dict[str, str] = {}
    if Path(dotenv_path).is_file():
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(os.environ if env is None else env)

    data_dir = Path(values.get("STRIPE_PIPELINE_DATA_DIR") or "data")
    try:
        rate_limit = float(values.get("STRIPE_RATE_LIMIT") or 0)
    except ValueError as exc:
        raise ConfigError(
            f"STRIPE_RATE_LIMIT must be a number of requests per second, got {values['STRIPE_RATE_LIMIT']!r}"
        ) from exc
    secrets = tuple(
        s.strip() for s in (values.get("STRIPE_WEBHOOK_SECRET") or "").split(",") if s.strip()
    )
    return Settings(
        stripe_client_secret=values.get("STRIPE_CLIENT_SECRET", ""),
        stripe_client_id=values.get("STRIPE_CLIENT_ID", ""),
        stripe_webhook_secrets=secrets,
        connect_enabled=_flag(values.get("STRIPE_CONNECT_ENABLED")),
        catalog_write_enabled=_flag(values.get("STRIPE_CATALOG_WRITE_ENABLED")),
        api_base=(values.get("STRIPE_API_BASE") or DEFAULT_API_BASE).rstrip("/"),
        connect_base=(values.get("STRIPE_CONNECT_BASE") or DEFAULT_CONNECT_BASE).rstrip("/"),
        data_dir=data_dir,
        warehouse_path=Path(values.get("WAREHOUSE_PATH") or data_dir / "warehouse.duckdb"),
        warehouse_url=_warehouse_url(values.get("WAREHOUSE_URL") or ""),
        serving_dir=Path(values.get("SERVING_DIR") or data_dir / "serving"),
        ops_database_url=_ops_database_url(values, data_dir),
        app_database_url=values.get("APP_DATABASE_URL", ""),
        platform_project_id=values.get("STRIPE_PLATFORM_PROJECT_ID") or "default",
        rate_limit=rate_limit,
        operator_token=values.get("OPERATOR_TOKEN", ""),
        listener_public_url=(values.get("LISTENER_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip(
            "/"
        ),
        webhook_max_body_bytes=_positive_int(values, "WEBHOOK_MAX_BODY_BYTES", 512 * 1024),
        listener_header_timeout_s=_positive_int(values, "LISTENER_HEADER_TIMEOUT_S", 10),
        webhook_body_timeout_s=_positive_int(values, "WEBHOOK_BODY_TIMEOUT_S", 10),
        sync_runs=_positive_int(values, "STRIPE_SYNC_RUNS", 1),
        sync_accounts_per_load=_positive_int(values, "STRIPE_SYNC_ACCOUNTS_PER_LOAD", 250),
        sync_accounts_at_once=_positive_int(values, "STRIPE_SYNC_ACCOUNTS_AT_ONCE", 16),
        # The Postgres warehouse is built by dbt's postgres target unless another is named.
        dbt_target=values.get("DBT_TARGET")
        or ("postgres" if values.get("WAREHOUSE_URL") else "duckdb"),
    )
