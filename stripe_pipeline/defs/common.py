"""What every folder of the code location shares: the account partitions, the warehouse pool,
run tags, and the resources that hand out settings and the ops store at run time.

Nothing here reads the environment when imported: `PipelineSettings.get()` does, when a run
or a sensor tick asks, so tests build the definitions against a temporary warehouse by passing
`env_overrides`.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from stripe_pipeline.settings import Settings, load_settings

if TYPE_CHECKING:
    from stripe_pipeline.ops_store import OpsStore

# One partition per Stripe account id (the platform's own id when Connect is off). Added and
# removed by `stripe_accounts_sensor`, never by hand-written code elsewhere.
STRIPE_ACCOUNTS = dg.DynamicPartitionsDefinition(name="stripe_accounts")

# DuckDB allows one writing process, so every asset that writes the warehouse holds a slot of
# this pool; dagster.yaml limits it to 1 (`concurrency: pools: default_limit: 1`).
WAREHOUSE_POOL = "warehouse"

# Run tags the sensors set and the assets/run-status sensors read back.
TAG_TRIGGER = "stripe_pipeline/trigger"  # accounts | webhook | sync_request | schedule | cli
TAG_SYNC_REQUEST_ID = "stripe_pipeline/sync_request_id"
TAG_INBOX_THROUGH = "stripe_pipeline/inbox_through"
# Names a batch of accounts across re-executions (default: the run's root run id), so a batch run
# that was killed resumes without fetching the accounts it already landed.
TAG_BATCH = "stripe_pipeline/batch"
# The nightly batch runs of one night (Postgres: several at once), and how many there are: the
# marts are built once the last of them has ended.
TAG_BATCH_GROUP = "stripe_pipeline/batch_group"
TAG_BATCH_RUNS = "stripe_pipeline/batch_runs"

STRIPE_GROUP = "stripe"
# The resources the Stripe source lands, in the order a first backfill loads them. Kept here
# (not derived from the source at import) only as a fallback for selections and docs; the asset
# specs themselves come from the dlt source.
CATALOG_RESOURCES = ("products", "prices")


class PipelineSettings(dg.ConfigurableResource):
    """The project's `Settings`, read from the environment (and `.env`) when a run or tick asks.

    `env_overrides` is for tests and embedding (e.g. the demo's temporary warehouse); production
    leaves it empty so secrets stay in the environment and never in run config.
    """

    env_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables applied over os.environ (tests and the demo only).",
    )
    dotenv_path: str = Field(default=".env", description="A .env file read under the environment.")

    def get(self) -> Settings:
        return load_settings(env={**os.environ, **self.env_overrides}, dotenv_path=self.dotenv_path)


class OpsStoreResource(dg.ConfigurableResource):
    """Opens the ops store (accounts, webhook inbox, sync requests) named by the settings."""

    settings: PipelineSettings

    @contextmanager
    def open(self) -> Iterator["OpsStore"]:
        from stripe_pipeline.ops_store import OpsStore

        store = OpsStore.open(self.settings.get().ops_database_url)
        try:
            yield store
        finally:
            close = getattr(store, "close", None)
            if callable(close):
                close()


def default_resources() -> dict[str, object]:
    """The resources every folder's assets, sensors and schedules ask for, by key."""
    settings = PipelineSettings()
    return {"settings": settings, "ops_store": OpsStoreResource(settings=settings)}
