"""Copies the host app's catalog and the ops store's tables into the warehouse, with dlt.

Datasets written (the dbt sources `app` and `ops` read them):

`app` (from APP_DATABASE_URL, any SQLAlchemy URL, opened read-only in intent: only SELECTs):
    projects(id, name)
    products(id, project_id, name, stripe_product_id, active)
    prices(id, project_id, product_id, stripe_price_id, unit_amount, currency, interval, active)
        unit_amount in integer minor units of `currency` (JPY not divided by 100);
        interval: month / year / ... or NULL for one-off prices
    skus(id, project_id, product_id, price_id, name)
    transactions(id, project_id, source, amount, currency, status, fee_amount, net_amount,
                 product_id, sku_id, created_at)
        the host app's non-Stripe money (source manual, invoice, ...); minor units; rows whose
        source is `stripe` are ignored by the marts (Stripe's own data is the truth for them)

`ops` (from OPS_DATABASE_URL, the ops store; tables reflected, not imported):
    stripe_accounts(project_id, stripe_account_id, livemode, status, scope, created_at, updated_at)
    stripe_webhook_events(id, account_id, type, livemode, api_version, created, payload_hash,
                          received_at, processed_at, status, run_id)   -- never the payload
    sync_requests(id, kind, project_id, account_id, since, status, run_id, error, created_at, updated_at)
    connector_sync_state(project_id, account_id, source, cursor, updated_at)

Every table is replaced on each load: they are small, and a replace also carries deletions.
A table missing from the source database is skipped with a log line, not an error: the dbt
staging models read a missing landed table (or column) as empty (macro `landed_source`), so the
marts build on a warehouse that holds only Stripe data.

`create_demo_app_database` writes a small SQLite host-app database consistent with the Stripe
emulator's generated catalog, for the demo and the end-to-end tests.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from stripe_pipeline.settings import ConfigError, Settings

if TYPE_CHECKING:
    from stripe_emulator.generator import Catalog

log = logging.getLogger(__name__)

APP_DATASET = "app"
OPS_DATASET = "ops"
APP_TABLES: tuple[str, ...] = ("projects", "products", "prices", "skus", "transactions")
OPS_TABLES: tuple[str, ...] = (
    "stripe_accounts",
    "stripe_webhook_events",
    "sync_requests",
    "connector_sync_state",
)
# The webhook payload is the full Stripe object: it stays in the ops store, never the warehouse.
OPS_EXCLUDED_COLUMNS: dict[str, list[str]] = {"stripe_webhook_events": ["payload"]}


@dataclass(frozen=True)
class CopySummary:
    """What one copy did: the tables loaded and those the source database does not have."""

    dataset: str
    loaded_tables: tuple[str, ...]
    missing_tables: tuple[str, ...]


def _existing_tables(url: str, wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    engine = sa.create_engine(url)
    try:
        present = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    return [t for t in wanted if t in present], [t for t in wanted if t not in present]


def _copy_tables(
    *,
    url: str,
    dataset: str,
    tables: Sequence[str],
    settings: Settings,
    destination: Any | None,
    excluded_columns: dict[str, list[str]] | None = None,
) -> CopySummary:
    import dlt
    from dlt.sources.sql_database import sql_table

    present, missing = _existing_tables(url, tables)
    for table in missing:
        log.warning(
            "%s: table %r is not in the source database; the warehouse keeps it empty "
            "(dbt reads a missing landed table as empty)",
            dataset,
            table,
        )
    if not present:
        return CopySummary(dataset, (), tuple(missing))
    resources = [
        sql_table(
            credentials=url,
            table=table,
            excluded_columns=(excluded_columns or {}).get(table),
            write_disposition="replace",
            reflection_level="full",
        )
        for table in present
    ]
    from stripe_pipeline.stripe_source import warehouse_destination

    pipeline = dlt.pipeline(
        pipeline_name=f"stripe_pipeline_{dataset}",
        destination=destination or warehouse_destination(settings),
        dataset_name=dataset,
        # Pipeline state next to the warehouse, not in the user's ~/.dlt.
        pipelines_dir=str(settings.data_dir / "dlt_pipelines"),
    )
    pipeline.run(resources)
    return CopySummary(dataset, tuple(present), tuple(missing))


def load_app_data(settings: Settings, destination: Any | None = None) -> CopySummary:
    """Copy the host app's tables (APP_DATABASE_URL) into dataset `app` of the warehouse.

    `destination`: a dlt destination; default the DuckDB file at settings.warehouse_path."""
    if not settings.app_database_url:
        raise ConfigError(
            "APP_DATABASE_URL is not set: point it at the host app's database (a SQLAlchemy URL, "
            "e.g. postgresql://reader@db/app or sqlite:///app.sqlite) to map Stripe products to yours"
        )
    return _copy_tables(
        url=settings.app_database_url,
        dataset=APP_DATASET,
        tables=APP_TABLES,
        settings=settings,
        destination=destination,
    )


def load_ops_data(settings: Settings, destination: Any | None = None) -> CopySummary:
    """Copy the ops store's tables (OPS_DATABASE_URL) into dataset `ops`, without webhook payloads."""
    return _copy_tables(
        url=settings.ops_database_url,
        dataset=OPS_DATASET,
        tables=OPS_TABLES,
        settings=settings,
        destination=destination,
        excluded_columns=OPS_EXCLUDED_COLUMNS,
    )


# -- the demo host app ----------------------------------------------------------------------

_DEMO_SCHEMA = """
create table projects (id text primary key, name text not null);
create table products (
    id text primary key, project_id text not null references projects(id), name text not null,
    stripe_product_id text, active boolean not null default 1
);
create table prices (
    id text primary key, project_id text not null references projects(id),
    product_id text not null references products(id), stripe_price_id text,
    unit_amount integer not null, currency text not null, interval text, active boolean not null default 1
);
create table skus (
    id text primary key, project_id text not null references projects(id),
    product_id text not null references products(id), price_id text references prices(id), name text not null
);
create table transactions (
    id text primary key, project_id text not null references projects(id), source text not null,
    amount integer not null, currency text not null, status text not null,
    fee_amount integer not null default 0, net_amount integer not null,
    product_id text references products(id), sku_id text references skus(id), created_at timestamp not null
);
"""

# Generated product index -> how the demo's internal catalog knows it (see the docstring).
_BY_METADATA, _BY_STORED_ID, _BY_NAME, _UNMAPPED = "metadata", "stored_id", "name", "unmapped"
_DEMO_MATCH = {
    0: _BY_METADATA,
    1: _BY_METADATA,
    2: _BY_NAME,
    3: _BY_STORED_ID,
    4: _BY_METADATA,
    5: _UNMAPPED,
}


def create_demo_app_database(path: str | Path, catalog: Catalog | Iterable[Catalog]) -> Path:
    """Write a SQLite host-app database matching the emulator's generated catalog(s).

    Per account catalog (project `project-{n}`), so the marts show every mapping outcome:
    - products 0, 1 and 4 keep the ids the Stripe metadata names (`product-{n}-{p}`): mapped by
      metadata; product 4 ("Legacy add-on") is archived in Stripe but active here;
    - product 2 ("Team seats") has another internal id and no stored Stripe id: inferred by name;
    - product 3 ("Tokyo workshop") has another internal id but stores the Stripe product id:
      mapped by stored id (its metadata names an id the app no longer has);
    - product 5 ("Gift card") has no internal product: unmapped, as the emulator intends;
    - "Consulting hours" exists only here: missing in Stripe;
    - price 1-0 (Pro monthly) is 100 minor units dearer here than in Stripe: a price mismatch.
    Prices and SKUs keep the generated `price-{n}-{p}-{k}` / `sku-{n}-{p}-{k}` ids, so payment
    metadata leads to them. Two manual (non-Stripe) transactions per project.
    """
    catalogs = [catalog] if hasattr(catalog, "products") else list(catalog)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    try:
        con.executescript(_DEMO_SCHEMA)
        for cat in catalogs:
            _insert_demo_catalog(con, cat)
        con.commit()
    finally:
        con.close()
    return path


def _insert_demo_catalog(con: sqlite3.Connection, cat: Catalog) -> None:
    n = cat.account_number
    project = cat.app_project_id
    con.execute("insert into projects values (?, ?)", (project, f"Demo project {n}"))
    for product in cat.products:
        match = _DEMO_MATCH.get(product.index, _BY_METADATA)
        if match == _UNMAPPED:
            continue
        internal_id = product.app_product_id or f"product-{n}-{product.index}"
        stored_stripe_id = None
        if match == _BY_NAME:
            internal_id = f"app-{n}-team-seats"
        elif match == _BY_STORED_ID:
            internal_id = f"app-{n}-workshop"
            stored_stripe_id = product.id
        # Active internally even when archived in Stripe (product 4): a catalog mismatch to show.
        con.execute(
            "insert into products values (?, ?, ?, ?, 1)",
            (internal_id, project, product.name, stored_stripe_id),
        )
        for price in product.prices:
            if price.app_price_id is None:
                continue  # e.g. archived price 0-2: no internal price, on purpose
            amount = price.unit_amount + (100 if (product.index, price.index) == (1, 0) else 0)
            con.execute(
                "insert into prices values (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    price.app_price_id,
                    project,
                    internal_id,
                    None,
                    amount,
                    price.currency,
                    price.interval,
                    int(price.active),
                ),
            )
            con.execute(
                "insert into skus values (?, ?, ?, ?, ?)",
                (price.app_sku_id, project, internal_id, price.app_price_id, price.nickname),
            )
    consulting = f"app-{n}-consulting"
    con.execute(
        "insert into products values (?, ?, 'Consulting hours', null, 1)", (consulting, project)
    )
    for i, amount in enumerate((25000, 12500)):
        con.execute(
            "insert into transactions values (?, ?, 'manual', ?, ?, 'succeeded', 0, ?, ?, null, ?)",
            (
                f"manual-{n}-{i}",
                project,
                amount,
                cat.currency,
                amount,
                consulting,
                f"2026-01-0{i + 1} 09:00:00",
            ),
        )
