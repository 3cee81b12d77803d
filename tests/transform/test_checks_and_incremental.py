"""The checks catch bad numbers, the incremental `transactions` equals a full rebuild, and the
project builds on warehouses that lack the app/ops data, or everything."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.fixtures.transform import (
    DAY3,
    LATER_LOAD_ID,
    DuckdbWarehouse,
    Scenario,
    run_dbt,
    write_duckdb_warehouse,
)

RECONCILIATION = "assert_transactions_net_reconciles_with_balance_transactions"


def test_reconciliation_fails_when_one_balance_transactions_net_is_off_by_one_unit(
    built_warehouse: DuckdbWarehouse,
) -> None:
    assert built_warehouse.dbt("test", "--select", RECONCILIATION).ok

    # The landed truth changes by one cent after the marts were built: the marts are now wrong.
    built_warehouse.execute(
        "update stripe.balance_transactions set net = net + 1, fee = fee - 1 where id = 'txn_3'"
    )
    failed = built_warehouse.dbt("test", "--select", RECONCILIATION)
    assert not failed.ok
    assert RECONCILIATION in failed.output and "FAIL 1" in failed.output  # one account+currency


def test_reconciliation_fails_when_a_mart_row_is_corrupted(
    built_warehouse: DuckdbWarehouse,
) -> None:
    built_warehouse.execute(
        "update marts.transactions set net_amount = net_amount * 100 where external_id = 'txn_j1'"
    )
    failed = built_warehouse.dbt("test", "--select", RECONCILIATION)
    assert not failed.ok and "FAIL 1" in failed.output


def _transactions(warehouse: DuckdbWarehouse) -> list[tuple]:
    return warehouse.query(
        "select * exclude (mapping_note, source_load_id) from marts.transactions "
        "order by transaction_id"
    )


def test_incremental_run_after_new_refund_equals_full_refresh(
    built_warehouse: DuckdbWarehouse,
) -> None:
    before = _transactions(built_warehouse)

    # A webhook-driven load (a later dlt load id) lands a new refund on an old charge, and its
    # balance transaction.
    con = duckdb.connect(str(built_warehouse.path))
    con.execute(
        "insert into stripe.refunds (id, account_id, charge, payment_intent, amount, currency, status, balance_transaction, metadata, created, is_deleted, _dlt_load_id) "
        "values ('re_late', 'acct_platform', 'ch_6', 'pi_6', 2500, 'usd', 'succeeded', 'txn_late', '{}', ?, false, ?)",
        [DAY3 + 7200, LATER_LOAD_ID],
    )
    con.execute(
        "insert into stripe.balance_transactions (id, account_id, amount, fee, net, currency, reporting_category, type, source, status, created, _dlt_load_id) "
        "values ('txn_late', 'acct_platform', -2500, 0, -2500, 'usd', 'refund', 'refund', 're_late', 'pending', ?, ?)",
        [DAY3 + 7200, LATER_LOAD_ID],
    )
    con.close()

    incremental = built_warehouse.dbt("build", "--select", "transactions+")
    assert incremental.ok, incremental.output[-4000:]
    after_incremental = _transactions(built_warehouse)
    assert len(after_incremental) == len(before) + 1
    assert built_warehouse.query(
        "select amount, fee_amount, net_amount from marts.transactions "
        "where transaction_id = 'stripe:txn_late'"
    ) == [(-2500, 0, -2500)]

    full = built_warehouse.dbt("build", "--full-refresh", "--select", "transactions+")
    assert full.ok, full.output[-4000:]
    assert _transactions(built_warehouse) == after_incremental


def test_builds_on_a_warehouse_with_only_stripe_data(
    tmp_path: Path, duckdb_warehouse: DuckdbWarehouse
) -> None:
    path = tmp_path / "stripe_only.duckdb"
    write_duckdb_warehouse(path, duckdb_warehouse.scenario, datasets=("stripe",))
    result = run_dbt(
        ["build"], env={"DBT_TARGET": "duckdb", "WAREHOUSE_PATH": str(path)}, work_dir=tmp_path
    )
    assert result.ok, result.output[-4000:]
    con = duckdb.connect(str(path), read_only=True)
    try:
        # Nothing maps without the host app's catalog, and every row says so.
        statuses = dict(
            con.execute(
                "select mapping_status, count(*) from marts.transactions group by 1"
            ).fetchall()
        )
        assert set(statuses) == {"unmapped"}
        assert con.execute("select count(*) from marts.stripe_accounts").fetchone()[0] == 2
    finally:
        con.close()


def test_builds_on_an_empty_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    write_duckdb_warehouse(path, Scenario(), datasets=())
    result = run_dbt(
        ["build"], env={"DBT_TARGET": "duckdb", "WAREHOUSE_PATH": str(path)}, work_dir=tmp_path
    )
    assert result.ok, result.output[-4000:]
    assert "does not exist yet; reading it as empty" in result.output


def test_parse_needs_no_warehouse(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "warehouse.duckdb"
    result = run_dbt(["parse"], env={"WAREHOUSE_PATH": str(missing)}, work_dir=tmp_path)
    assert result.ok, result.output[-4000:]
    assert (tmp_path / "target" / "manifest.json").is_file()
    assert not missing.exists()
