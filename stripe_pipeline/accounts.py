"""Which Stripe accounts the pipeline syncs: one Dagster partition per account.

- `STRIPE_CONNECT_ENABLED` off: the platform's own account only, its id read from
  `GET /v1/account` with the platform's secret key.
- On: the connected accounts in the ops store (status `connected`) plus the platform's own.

The platform's own account is synced without a `Stripe-Account` header; see `source_account_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from stripe_pipeline.settings import ConfigError, Settings

if TYPE_CHECKING:
    from stripe_pipeline.ops_store import OpsStore

_TIMEOUT_SECONDS = 30


class AccountLookupError(RuntimeError):
    """Stripe did not tell us who the platform account is; the message says what to check."""


@dataclass(frozen=True)
class SyncAccount:
    """One account to sync: its id is also its Dagster partition key."""

    account_id: str
    project_id: str
    is_platform: bool


def platform_account_id(settings: Settings) -> str:
    """The platform's own account id (`acct_...`), from `GET /v1/account`.

    Raises ConfigError without a secret key and AccountLookupError when Stripe refuses; neither
    message contains the key.
    """
    key = settings.require_secret_key()
    url = f"{settings.api_base}/v1/account"
    try:
        response = requests.get(url, auth=(key, ""), timeout=_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise AccountLookupError(
            f"could not reach {url} ({type(exc).__name__}); check STRIPE_API_BASE and the network"
        ) from None
    if response.status_code in (401, 403):
        raise AccountLookupError(
            f"{url} answered {response.status_code}: STRIPE_CLIENT_SECRET was refused; set the "
            "platform's secret key (sk_test_... or sk_live_...) in the environment or .env"
        )
    if response.status_code != 200:
        raise AccountLookupError(
            f"{url} answered {response.status_code}; retry later or check STRIPE_API_BASE"
        )
    account_id = response.json().get("id")
    if not isinstance(account_id, str) or not account_id.startswith("acct_"):
        raise AccountLookupError(f"{url} returned no account id; is STRIPE_API_BASE a Stripe API?")
    return account_id


def accounts_to_sync(
    settings: Settings, store: OpsStore | None = None, platform_id: str | None = None
) -> list[SyncAccount]:
    """The accounts to sync, the platform's own first, each once.

    `store` is needed only with Connect on; `platform_id` saves the `GET /v1/account` call when
    the caller already knows it.
    """
    platform_id = platform_id or platform_account_id(settings)
    accounts = [SyncAccount(platform_id, settings.platform_project_id, is_platform=True)]
    if not settings.connect_enabled:
        return accounts
    if store is None:
        raise ConfigError(
            "STRIPE_CONNECT_ENABLED is on, so the connected accounts come from the ops store: "
            "pass an OpsStore (OPS_DATABASE_URL)"
        )
    for account in store.connected_accounts():
        if account.stripe_account_id != platform_id:
            accounts.append(SyncAccount(account.stripe_account_id, account.project_id, False))
    return accounts


def source_account_id(account_id: str, platform_id: str) -> str | None:
    """What the Stripe source takes as `account_id`: None for the platform's own account (no
    `Stripe-Account` header, which Stripe only accepts for connected accounts)."""
    return None if account_id == platform_id else account_id
