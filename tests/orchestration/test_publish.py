"""Publishing the marts for BI tools: atomic, never blocked by a reader, never half-written."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from stripe_pipeline.publish import PublishError, publish_marts


def _write_marts(warehouse: Path, net: int) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists staging")
        con.execute(
            "create or replace table marts.transactions as select 'ch_1' as external_id, ? as net_amount",
            [net],
        )
        con.execute("create or replace table marts.analytics_daily as select 1 as n")
        con.execute("create or replace view staging.not_published as select 1 as x")


def test_reader_of_old_serving_file_keeps_old_data_and_new_reader_sees_new(tmp_path: Path) -> None:
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving"
    _write_marts(warehouse, net=100)
    first = publish_marts(warehouse, serving)
    assert first.tables == ["analytics_daily", "transactions"]

    # A BI tool's read-only connection, opened before the next publish and held across it.
    bi = duckdb.connect(str(first.serving_path), read_only=True)
    _write_marts(warehouse, net=250)
    publish_marts(warehouse, serving)  # must not block on, or fail because of, the reader

    assert bi.execute("select net_amount from marts.transactions").fetchone() == (100,)
    bi.close()
    with duckdb.connect(str(first.serving_path), read_only=True) as fresh:
        assert fresh.execute("select net_amount from marts.transactions").fetchone() == (250,)
    parquet = serving / "parquet" / "transactions.parquet"
    assert duckdb.sql(f"select net_amount from '{parquet}'").fetchone() == (250,)
    # Only marts are published, and no temporary files are left behind.
    assert sorted(p.name for p in (serving / "parquet").iterdir()) == [
        "analytics_daily.parquet",
        "transactions.parquet",
    ]
    assert not [p for p in serving.rglob(".*.tmp")]


def test_failed_publish_leaves_the_previous_serving_file_in_place(tmp_path: Path) -> None:
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving"
    _write_marts(warehouse, net=100)
    result = publish_marts(warehouse, serving)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop schema marts cascade")

    with pytest.raises(PublishError, match="no tables in schema `marts`"):
        publish_marts(warehouse, serving)

    with duckdb.connect(str(result.serving_path), read_only=True) as con:
        assert con.execute("select net_amount from marts.transactions").fetchone() == (100,)
    assert not [p for p in serving.rglob(".*.tmp")]


def test_publish_without_a_warehouse_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="stripe-pipeline sync"):
        publish_marts(tmp_path / "missing.duckdb", tmp_path / "serving")
