"""The console's queries against a serving file published from the hand-computed scenario
(tests/fixtures/transform.py, built by a real `dbt build`), and against small hand-built marts
where paging needs more rows than the scenario has."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from stripe_pipeline.money import format_money
from stripe_pipeline.ops_store import StripeAccount, SyncState
from stripe_pipeline.settings import Settings
from tests.fixtures.console import PublishedScenario
from webhook_listener.console.analytics_query import overview, payout_totals, stripe_balances
from webhook_listener.console.catalog_query import catalog_rows
from webhook_listener.console.connectors_query import connector_rows, marts_connectors
from webhook_listener.console.csv_export import write_csv
from webhook_listener.console.transactions_query import (
    PAGE_SIZE,
    TransactionFilters,
    count_matching,
    transactions_page,
)


@pytest.fixture
def con(published_scenario: PublishedScenario) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(published_scenario.serving_db), read_only=True)
    yield connection
    connection.close()


def filters(**params: str) -> TransactionFilters:
    found, problems = TransactionFilters.from_query(params)
    assert problems == []
    return found


# -- money -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (123456, "usd", "1,234.56"),
        (-5, "eur", "-0.05"),
        (1500, "jpy", "1,500"),  # zero-decimal: https://docs.stripe.com/currencies#zero-decimal
        (-500, "JPY", "-500"),
        (None, "usd", "0.00"),
    ],
)
def test_minor_units_are_shown_in_the_currencys_own_decimals(minor, currency, shown) -> None:
    assert format_money(minor, currency) == shown


# -- transactions ----------------------------------------------------------------------------


def test_totals_are_per_currency_and_follow_the_filters(con) -> None:
    everything = transactions_page(con, filters())
    assert everything.count == 17
    assert {t.currency for t in everything.totals} == {"usd", "jpy", "eur"}
    # proj_b and proj_override in JPY: charges 1500 and 3000 (fees 54, 108), a refund of -500.
    [jpy] = transactions_page(con, filters(currency="jpy")).totals
    assert (jpy.count, jpy.gross, jpy.fees, jpy.net) == (3, 4000, 162, 3838)
    [refunds] = transactions_page(con, filters(currency="jpy", type="refund")).totals
    assert (refunds.count, refunds.gross, refunds.net) == (1, -500, -500)
    manual = transactions_page(con, filters(source="manual"))
    assert [(t.currency, t.gross, t.fees) for t in manual.totals] == [("usd", 10000, 0)]


def test_every_filter_narrows_the_rows_to_its_value(con) -> None:
    cases = {
        "project": ("proj_b", "project_id"),
        "source": ("invoice", "source"),
        "currency": ("eur", "currency"),
        "type": ("dispute", "type"),
        "status": ("failed", "status"),
        "mapping": ("ambiguous", "mapping_status"),
    }
    for name, (value, column) in cases.items():
        rows = transactions_page(con, filters(**{name: value})).rows
        assert rows and all(row[column] == value for row in rows), name


def test_the_date_range_includes_both_ends(con) -> None:
    rows = transactions_page(con, filters(**{"from": "2026-01-06", "to": "2026-01-06"})).rows
    assert {row["created_at"].date() for row in rows} == {date(2026, 1, 6)}
    assert len(rows) == 5
    assert count_matching(con, filters(**{"from": "2026-01-07"})) == 10


def test_sorting_is_server_side_and_only_on_whitelisted_columns(con) -> None:
    by_net = transactions_page(con, filters(sort="net", dir="asc")).rows
    nets = [row["net_amount"] for row in by_net]
    assert nets == sorted(nets) and nets[0] == -6500
    found, problems = TransactionFilters.from_query({"sort": "amount; drop table x"})
    assert found.sort == "created_at"
    assert problems == ["cannot sort by 'amount; drop table x'; sorted by date instead"]


def test_a_value_that_is_not_a_date_is_ignored_with_a_message() -> None:
    found, problems = TransactionFilters.from_query({"from": "yesterday", "currency": "usd"})
    assert found.date_from is None and found.values == {"currency": "usd"}
    assert problems == ["'yesterday' is not a date (YYYY-MM-DD); the from date is ignored"]


def test_facets_offer_the_values_present_in_the_mart(con) -> None:
    facets = transactions_page(con, filters()).facets
    assert facets["source"] == ["invoice", "manual", "stripe"]
    assert facets["currency"] == ["eur", "jpy", "usd"]
    assert "ambiguous" in facets["mapping"]


def _hand_built_transactions(path: Path, rows: int) -> None:
    with duckdb.connect(str(path)) as db:
        db.execute("create schema marts")
        db.execute(
            """
            create table marts.transactions as
            select 'stripe:txn_' || lpad(i::varchar, 5, '0') as transaction_id,
                'p' as project_id, 'stripe' as source, 'txn_' || i as external_id,
                'charge' as type, 'succeeded' as status, 100 + i as amount,
                3 as fee_amount, 97 + i as net_amount, 'usd' as currency,
                null::varchar as product_id, null::varchar as price_id, null::varchar as sku_id,
                'unmapped' as mapping_status, 'no metadata' as mapping_note,
                'acct_1' as stripe_account_id,
                timestamp '2026-01-01' + to_seconds(i // 2) as created_at
            from range(?) as t(i)
            """,
            [rows],
        )


def test_pages_of_fifty_cover_every_row_once_even_with_equal_sort_keys(tmp_path: Path) -> None:
    path = tmp_path / "paging.duckdb"
    _hand_built_transactions(path, 120)  # two rows share each created_at second
    with duckdb.connect(str(path), read_only=True) as db:
        pages = [transactions_page(db, filters(page=str(n))) for n in (1, 2, 3, 4)]
    assert [len(p.rows) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 20, 0]
    assert pages[0].pages == 3
    seen = [row["transaction_id"] for p in pages for row in p.rows]
    assert len(seen) == len(set(seen)) == 120


# -- CSV export ------------------------------------------------------------------------------


def test_csv_export_holds_the_filtered_rows_with_amounts_in_their_currency(con) -> None:
    path = write_csv(con, filters(currency="jpy"))
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    finally:
        path.unlink()
    assert len(rows) == 3
    assert {r["currency"] for r in rows} == {"jpy"}
    # JPY is zero-decimal: 1500 minor units are ¥1500, written without decimals.
    assert sorted(r["gross"] for r in rows) == ["-500", "1500", "3000"]
    assert sorted(int(r["gross_minor"]) for r in rows) == [-500, 1500, 3000]
    usd = write_csv(con, filters(currency="usd", type="dispute"))
    try:
        with usd.open(newline="") as handle:
            disputes = sorted((r["gross"], r["fees"], r["net"]) for r in csv.DictReader(handle))
    finally:
        usd.unlink()
    assert disputes == [("-50.00", "15.00", "-65.00"), ("-9.99", "15.00", "-24.99")]


# -- analytics -------------------------------------------------------------------------------


def test_analytics_offers_a_chip_per_source_and_counts_only_the_chosen_ones(con) -> None:
    everything = overview(con, [], None)
    assert everything.sources == ["stripe", "invoice", "manual"]
    assert everything.selected == everything.sources
    totals = {(t.source, t.currency): t for t in everything.totals}
    assert (totals["stripe", "jpy"].gross, totals["stripe", "jpy"].refunds) == (4500, -500)
    assert totals["manual", "usd"].net == 10000
    assert everything.conversion, "the stripe chip is on: the conversion curve is drawn"

    only_apps = overview(con, ["manual", "invoice"], None)
    assert only_apps.selected == ["invoice", "manual"]
    assert {t.source for t in only_apps.totals} == {"manual", "invoice"}
    assert {p.source for p in only_apps.daily} == {"manual", "invoice"}
    assert only_apps.conversion == []


def test_analytics_never_adds_currencies_together(con) -> None:
    view = overview(con, ["stripe"], None)
    assert sorted((t.currency, t.net) for t in view.totals) == [("jpy", 3838), ("usd", 4273)]


def test_the_conversion_curve_is_succeeded_over_created_per_day(con) -> None:
    view = overview(con, ["stripe"], "default")
    assert [(p.day, p.created, p.succeeded) for p in view.conversion] == [
        (date(2026, 1, 5), 2, 2),
        (date(2026, 1, 6), 1, 1),
        (date(2026, 1, 7), 5, 3),
    ]
    assert view.conversion[-1].rate == pytest.approx(0.6)


# -- catalog ---------------------------------------------------------------------------------


def test_every_catalog_row_has_one_badge_and_a_hint(con) -> None:
    rows = catalog_rows(con)
    by_stripe_id = {r.stripe_id: r for r in rows if r.stripe_id}
    assert by_stripe_id["prod_team"].badge == "archived_in_stripe"
    assert by_stripe_id["prod_sticker"].badge == "ambiguous_match"
    assert by_stripe_id["prod_mystery"].badge == "unmapped_in_app"
    assert by_stripe_id["prod_book"].badge == "inferred_match"
    assert by_stripe_id["prod_pro"].badge == "mapped"
    assert by_stripe_id["price_team"].badge == "price_mismatch"
    assert "5000 usd" in by_stripe_id["price_team"].hints[0]
    [missing] = [r for r in rows if r.badge == "missing_in_stripe"]
    assert (missing.internal_id, missing.stripe_id) == ("app_prod_orphan", None)
    assert all(r.hints for r in rows)


# -- connectors ------------------------------------------------------------------------------


def _account(account_id: str, project: str, status: str = "connected") -> StripeAccount:
    now = datetime(2026, 1, 8, tzinfo=UTC)
    return StripeAccount(account_id, project, False, status, "read_only", now, now)


def test_connect_off_shows_only_the_platforms_account_and_no_connect(con) -> None:
    marts = marts_connectors(con)
    settings = Settings(connect_enabled=False, platform_project_id="default")
    [row] = connector_rows(settings, [_account("acct_jp", "proj_b")], [], marts)
    assert (row.account_id, row.is_platform, row.can_connect, row.can_sync) == (
        "acct_platform",
        True,
        False,
        True,
    )


def test_connect_on_lists_accounts_with_their_sync_and_projects_without_one(con) -> None:
    marts = marts_connectors(con)
    settings = Settings(connect_enabled=True, platform_project_id="default")
    state = SyncState(
        "proj_b",
        "acct_jp",
        "stripe_sync",
        {
            "status": "succeeded",
            "trigger": "webhook",
            "started_at": "2026-01-08T10:00:00+00:00",
            "rows": {"charges": 3, "balance_transactions": 4},
        },
        datetime(2026, 1, 8, tzinfo=UTC),
    )
    rows = connector_rows(
        settings,
        [_account("acct_jp", "proj_b"), _account("acct_gone", "proj_c", "disconnected")],
        [state],
        marts,
        now=datetime(2026, 1, 8, 10, 5, tzinfo=UTC),
    )
    by_project = {r.project_id: r for r in rows}
    jp = by_project["proj_b"]
    assert (jp.status, jp.can_disconnect, jp.can_sync, jp.can_connect) == (
        "connected",
        True,
        True,
        False,
    )
    assert (jp.last_sync.trigger, jp.last_sync.rows) == ("webhook", 7)
    assert jp.health in {"connected", "stale", "failing"} and jp.health_notes
    gone = by_project["proj_c"]
    assert (gone.status, gone.can_connect, gone.can_disconnect) == ("disconnected", True, False)
    assert by_project["proj_override"].status == "not connected"
    assert by_project["proj_override"].can_connect


def test_the_selected_sources_are_added_per_currency_only(con) -> None:
    view = overview(con, ["stripe", "manual"], None)
    assert [(t.currency, t.gross, t.net, t.count) for t in view.selected_totals] == [
        ("jpy", 4500, 3838, 3),
        ("usd", 11899 + 10000, 4273 + 10000, 13),
    ]


def test_balances_at_stripe_are_per_account_and_currency_and_follow_the_project(con) -> None:
    everything = overview(con, [], None)
    jp = [b for b in everything.balances if b.stripe_account_id == "acct_jp"]
    # acct_jp's JPY balance is its transactions' net: 1446 + 2892 - 500, nothing paid out.
    assert [(b.currency, b.available + b.pending) for b in jp] == [("jpy", 3838)]
    only_b = overview(con, [], "proj_b")
    assert {b.stripe_account_id for b in only_b.balances} == {"acct_jp"}
    assert overview(con, ["manual"], None).balances is None  # a Stripe figure: stripe chip off


def test_payouts_are_totalled_per_currency_and_status_with_the_reconciled_count(
    tmp_path: Path,
) -> None:
    path = tmp_path / "payouts.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("create schema marts")
        db.execute(
            "create table marts.stripe_accounts as select * from (values "
            "('acct_a', 'proj_a'), ('acct_b', 'proj_b')) t(stripe_account_id, project_id)"
        )
        db.execute(
            "create table marts.payouts as select * from (values "
            "('acct_a', 'usd', 'paid', 1000, true), ('acct_a', 'usd', 'paid', 500, false), "
            "('acct_a', 'usd', 'failed', 200, null), ('acct_b', 'jpy', 'paid', 3000, true)"
            ") t(stripe_account_id, currency, status, amount, reconciled)"
        )
    with duckdb.connect(str(path), read_only=True) as db:
        everything = payout_totals(db, None)
        only_a = payout_totals(db, "proj_a")
        balances = stripe_balances(db, None)
    assert [(p.currency, p.status, p.count, p.amount, p.reconciled) for p in everything] == [
        ("jpy", "paid", 1, 3000, 1),
        ("usd", "failed", 1, 200, 0),
        ("usd", "paid", 2, 1500, 1),
    ]
    assert {p.currency for p in only_a} == {"usd"}
    assert balances is None  # this serving file has no marts.balances: the page says so
