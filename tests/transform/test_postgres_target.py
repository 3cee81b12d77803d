"""The same models build on Postgres (target `postgres`) from the same landed rows, and give the
same marts as DuckDB, to the unit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.transform import (
    DuckdbWarehouse,
    postgres_query,
    run_dbt,
    scenario_rows,
    write_postgres_warehouse,
)

pytestmark = pytest.mark.postgres

# The marts that do not depend on the clock, each with the order its rows are compared in.
MARTS = {
    "transactions": "transaction_id",
    "stripe_product_map": "stripe_account_id, stripe_product_id",
    "stripe_price_map": "stripe_account_id, stripe_price_id",
    "analytics_daily": "date_day, project_id, source, currency",
    "analytics_payment_conversion": "date_day, project_id",
    "catalog_mismatches": "mismatch_id",
    "stripe_accounts": "stripe_account_id",
}


def _postgres_rows(dsn: str, table: str, order_by: str) -> list[tuple]:
    return postgres_query(dsn, f"select * from marts.{table} order by {order_by}")


def test_postgres_target_builds_the_same_marts_as_duckdb(
    postgres_url: str, postgres_database: str, built_warehouse: DuckdbWarehouse, tmp_path: Path
) -> None:
    dsn = postgres_url.rsplit("/", 1)[0] + "/" + postgres_database
    # Same scenario, but its ops timestamps are relative to "now": compare only time-free marts.
    write_postgres_warehouse(dsn, scenario_rows())
    env = {
        "DBT_TARGET": "postgres",
        "DBT_POSTGRES_DATABASE": postgres_database,
        "DBT_POSTGRES_SCHEMA": "public",
    }
    result = run_dbt(["build"], env=env, work_dir=tmp_path)
    assert result.ok, result.output[-6000:]

    for table, order_by in MARTS.items():
        expected = built_warehouse.query(f"select * from marts.{table} order by {order_by}")
        actual = _postgres_rows(dsn, table, order_by)
        if table == "stripe_accounts":
            # created_at / updated_at come from the fixture's clock at write time.
            expected = [tuple(v for v in row if not hasattr(v, "hour")) for row in expected]
            actual = [tuple(v for v in row if not hasattr(v, "hour")) for row in actual]
        assert actual == expected, f"marts.{table} differs between Postgres and DuckDB"

    # The clock-dependent marts: compare what does not depend on the moment of the build.
    for sql in (
        "select event_name, count(*) from marts.events group by 1 order by 1",
        "select project_id, stripe_account_id, source from marts.connector_sync_state order by 1, 2, 3",
        "select stripe_account_id, status, rows_in_last_sync, last_error, pending_webhook_events "
        "from marts.connector_health order by 1",
    ):
        assert postgres_query(dsn, sql) == built_warehouse.query(sql), sql
