"""Real Stripe money in the marts: every balance-transaction type has its documented place, a
bank debit that fails after it was credited nets to zero without stopping the build, a payout
reconciles to the transactions it settled, balances split available from pending, and an
invoice-paid payment maps to its SKU. Every figure is computed by hand from Stripe's docs:

- types and reporting categories: docs.stripe.com/reports/balance-transaction-types and
  docs.stripe.com/reports/reporting-categories;
- a failed ACH / SEPA debit: a `payment` credited (pending), then a `payment_failure_refund`
  giving it back, the charge `failed` (docs.stripe.com/payments/ach-direct-debit);
- balances: net is pending from `created` until `available_on` (docs.stripe.com/payments/balances);
- payouts: an automatic payout pays out the net of the balance transactions it settled
  (docs.stripe.com/reports/payout-reconciliation);
- invoice payments: since 2025-03-31.basil a charge names no invoice; GET /v1/invoice_payments
  does (docs.stripe.com/changelog/basil, "multiple partial payments on invoices").
"""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import stripe
import yaml

from tests.fixtures.transform import (
    DAY1,
    DAY3,
    LATER_LOAD_ID,
    REPO_ROOT,
    DuckdbWarehouse,
    Scenario,
    scenario_rows,
    write_duckdb_warehouse,
)

pytestmark = pytest.mark.slow

MACRO = REPO_ROOT / "dbt_project" / "macros" / "money_classification.sql"
MONEY_DOC = REPO_ROOT / "docs" / "money.md"
P = "acct_platform"
DAY = 86400


def money_classification() -> dict[str, dict[str, list[str]]]:
    """The contract as the dbt macro holds it (the YAML between its `set` and `endset`)."""
    text = MACRO.read_text()
    body = re.search(r"\{%- set classification -%\}(.*?)\{%- endset -%\}", text, re.S)
    assert body, "macros/money_classification.sql lost its YAML block"
    return yaml.safe_load(body.group(1))


def sdk_types() -> list[str]:
    literal = typing.get_args(stripe.BalanceTransaction.__annotations__["type"])[0]
    return list(typing.get_args(literal))


def sdk_reporting_categories() -> list[str]:
    from stripe.params.reporting._report_run_create_params import (
        ReportRunCreateParamsParameters,
    )

    hint = ReportRunCreateParamsParameters.__annotations__["reporting_category"]
    return re.findall(r"'([a-z_]+)'", str(hint))


# A plausible reporting category per type, for rows built from the SDK's list (Stripe pairs them
# this way; `adjustment` is classified by its category, so it gets a plain one).
_CATEGORY_OF = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "refund_failure": "refund_failure",
    "payment_failure_refund": "charge_failure",
    "application_fee": "platform_earning",
    "application_fee_refund": "platform_earning_refund",
    "stripe_fee": "fee",
    "stripe_fx_fee": "fee",
    "tax_fee": "tax",
    "adjustment": "other_adjustment",
}


def _add_bt(s: Scenario, tid: str, amount: int, fee: int, btype: str, category: str,
            source: str | None, created: int, status: str = "available",
            available_on: int | None = None, account: str = P, currency: str = "usd") -> None:  # fmt: skip
    s.add(
        "stripe",
        "balance_transactions",
        id=tid,
        account_id=account,
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency=currency,
        reporting_category=category,
        type=btype,
        source=source,
        status=status,
        available_on=available_on if available_on is not None else created + 2 * DAY,
        fee_details="[]",
        created=created,
    )


def money_scenario(now: datetime) -> Scenario:
    """The base scenario plus: one row of every SDK type, an unknown type, an automatic payout
    with the transactions it settled, a pending card payment, and a subscription payment whose
    invoice only its invoice payment names."""
    s = scenario_rows(now)
    classes = money_classification()
    t0 = DAY3 + 3 * 3600
    for i, btype in enumerate(sdk_types()):
        category = _CATEGORY_OF.get(
            btype, btype if btype in classes["reporting_categories"] else "other_adjustment"
        )
        cls = classes["types"][btype][1] if btype != "adjustment" else "adjustment"
        amount = 100 if cls == "revenue" or btype == "refund_failure" else -100
        _add_bt(s, f"txn_t_{btype}", amount, 0, btype, category, None, t0 + i)
    _add_bt(s, "txn_unknown", -42, 0, "brand_new_type", "brand_new_category", None, t0 + 100)

    # An automatic payout of 2,200 that settled a 3,000 charge (fee 100), a 400 refund and a
    # 300 Stripe fee billed on its own: 2,900 - 400 - 300 = 2,200.
    payout_day = DAY3 + 2 * DAY
    _add_bt(s, "txn_pa_charge", 3000, 100, "charge", "charge", "ch_pa", DAY3)
    _add_bt(s, "txn_pa_refund", -400, 0, "refund", "refund", "re_pa", DAY3 + 60)
    _add_bt(s, "txn_pa_fee", -300, 0, "stripe_fee", "fee", None, DAY3 + 120)
    _add_bt(s, "txn_po_auto", -2200, 0, "payout", "payout", "po_auto", payout_day)
    s.add("stripe", "payouts", id="po_auto", account_id=P, amount=2200, currency="usd",
          status="paid", arrival_date=payout_day + 2 * DAY, automatic=True, method="standard",
          type="bank_account", source_type="card", balance_transaction="txn_po_auto",
          metadata="{}", created=payout_day, livemode=False, is_deleted=False)  # fmt: skip
    for txn in ("txn_pa_charge", "txn_pa_refund", "txn_pa_fee", "txn_po_auto"):
        s.add("stripe", "payout_balance_transactions", account_id=P, payout_id="po_auto",
              balance_transaction_id=txn)  # fmt: skip
    # A manual payout: Stripe lists no transactions for it, so it is never judged.
    _add_bt(s, "txn_po_manual", -1000, 0, "payout", "payout", "po_manual", payout_day)
    s.add("stripe", "payouts", id="po_manual", account_id=P, amount=1000, currency="usd",
          status="paid", automatic=False, balance_transaction="txn_po_manual", metadata="{}",
          created=payout_day, livemode=False, is_deleted=False)  # fmt: skip

    # A subscription payment: neither the charge nor the intent names the invoice (basil); the
    # paid invoice payment does, and its line's price is the Pro price (SKU sku_pro_monthly).
    s.add("stripe", "payment_intents", id="pi_sub", account_id=P, amount=2000, currency="usd",
          status="succeeded", latest_charge="ch_sub", metadata="{}", created=DAY3,
          livemode=False, is_deleted=False)  # fmt: skip
    s.add("stripe", "charges", id="ch_sub", account_id=P, payment_intent="pi_sub", amount=2000,
          amount_captured=2000, amount_refunded=0, currency="usd", status="succeeded", paid=True,
          captured=True, refunded=False, disputed=False, balance_transaction="txn_sub",
          payment_method_type="card", metadata="{}", created=DAY3, livemode=False,
          is_deleted=False)  # fmt: skip
    _add_bt(s, "txn_sub", 2000, 88, "charge", "charge", "ch_sub", DAY3)
    s.add("stripe", "invoices", id="in_sub", account_id=P, status="paid", currency="usd",
          total=2000, amount_paid=2000, metadata="{}", created=DAY3, is_deleted=False)  # fmt: skip
    s.add("stripe", "invoice_line_items", id="il_sub", account_id=P, invoice="in_sub",
          amount=2000, currency="usd", quantity=1, price_id="price_pro", product_id="prod_pro",
          metadata="{}")  # fmt: skip
    s.add("stripe", "invoice_payments", id="inpay_sub", account_id=P, invoice="in_sub",
          amount_paid=2000, amount_requested=2000, currency="usd", status="paid",
          is_default=True, payment_type="payment_intent", payment_intent="pi_sub",
          paid_at=DAY3, created=DAY3, livemode=False, is_deleted=False)  # fmt: skip

    # A card payment made an hour ago: pending for two days (docs.stripe.com/payments/balances).
    recent = int(now.timestamp()) - 3600
    _add_bt(s, "txn_recent", 1000, 59, "charge", "charge", None, recent,
            status="pending", available_on=recent + 2 * DAY)  # fmt: skip
    return s


def _warehouse(tmp_path: Path) -> DuckdbWarehouse:
    scenario = money_scenario(datetime.now(UTC))
    path = tmp_path / "warehouse.duckdb"
    write_duckdb_warehouse(path, scenario)
    return DuckdbWarehouse(path=path, work_dir=tmp_path, scenario=scenario)


@pytest.fixture(scope="module")
def money_warehouse(tmp_path_factory: pytest.TempPathFactory) -> DuckdbWarehouse:
    warehouse = _warehouse(tmp_path_factory.mktemp("money"))
    result = warehouse.dbt("build")
    assert result.ok, result.output[-6000:]
    warehouse.build_output = result.output  # type: ignore[attr-defined]
    return warehouse


# --------------------------------------------------------------------------- the contract


def test_the_contract_lists_every_type_and_reporting_category_the_sdk_knows() -> None:
    classes = money_classification()
    assert set(sdk_types()) <= set(classes["types"]), "add the new types to the macro and docs"
    assert set(sdk_reporting_categories()) <= set(classes["reporting_categories"])
    allowed = {"revenue", "fee", "refund", "dispute", "adjustment", "bank_debit_failure", "payout"}
    for name, (_, money_class) in {**classes["types"], **classes["reporting_categories"]}.items():
        assert money_class in allowed | {"by reporting category"}, name


def test_docs_money_md_states_the_same_contract_as_the_macro() -> None:
    classes = money_classification()
    doc = MONEY_DOC.read_text()
    rows = dict(
        (m.group(1), (m.group(2), m.group(3)))
        for m in re.finditer(r"^\| `([a-z_]+)` \| `?([a-z_ ]+?)`? \| `?([a-z_ ]+?)`? \|", doc, re.M)
    )
    for section in ("types", "reporting_categories"):
        for name, (transaction_type, money_class) in classes[section].items():
            assert rows.get(name) == (transaction_type, money_class), f"docs/money.md: {name}"
    # Spot checks, from Stripe's "Balance transaction types" page.
    assert classes["types"]["payment_failure_refund"] == [
        "bank_debit_failure",
        "bank_debit_failure",
    ]
    assert classes["types"]["stripe_fee"] == ["fee", "fee"]
    assert classes["types"]["payout"][1] == "payout"
    assert classes["types"]["transfer"][1] == "payout"
    assert classes["reporting_categories"]["partial_capture_reversal"] == ["charge", "revenue"]
    assert classes["reporting_categories"]["dispute_reversal"] == ["dispute_reversal", "dispute"]


# --------------------------------------------------------------------------- one build


def test_every_sdk_type_lands_in_transactions_with_its_contract_class_or_stays_out_as_a_payout(
    money_warehouse: DuckdbWarehouse,
) -> None:
    classes = money_classification()
    rows = dict(
        (r[0], (r[1], r[2]))
        for r in money_warehouse.query(
            "select external_id, type, money_class from marts.transactions "
            "where external_id like 'txn_t_%'"
        )
    )
    for btype in sdk_types():
        txn = f"txn_t_{btype}"
        if btype == "adjustment":
            assert rows[txn] == ("adjustment", "adjustment")  # category other_adjustment
            continue
        transaction_type, money_class = classes["types"][btype]
        if money_class == "payout":
            assert txn not in rows, f"{btype} moves the balance, it is not a transaction"
        else:
            assert rows[txn] == (transaction_type, money_class), btype
    assert rows["txn_t_payment_failure_refund"] == ("bank_debit_failure", "bank_debit_failure")
    assert rows["txn_t_stripe_fee"] == ("fee", "fee")
    assert rows["txn_t_application_fee"] == ("application_fee", "revenue")


def test_an_unknown_type_lands_unclassified_with_a_warning_and_the_marts_still_build(
    money_warehouse: DuckdbWarehouse,
) -> None:
    output = money_warehouse.build_output  # type: ignore[attr-defined]
    assert re.search(r"WARN 1 warn_unclassified_balance_transactions", output), output[-3000:]
    assert money_warehouse.query(
        "select type, money_class, amount, net_amount from marts.transactions "
        "where external_id = 'txn_unknown'"
    ) == [("unclassified", "unclassified", -42, -42)]
    warnings = money_warehouse.query(
        "select stripe_account_id, check_name, object_id, amount from marts.data_warnings"
    )
    assert warnings == [(P, "unclassified_balance_transaction", "txn_unknown", -42)]
    health = dict(
        money_warehouse.query("select stripe_account_id, data_warnings from marts.connector_health")
    )
    assert health == {P: 1, "acct_jp": 0, "acct_gone": 0}


def test_analytics_daily_adds_up_on_every_day_for_every_type(
    money_warehouse: DuckdbWarehouse,
) -> None:
    rows = money_warehouse.query(
        "select date_day, currency, gross_amount, refund_amount, dispute_amount, "
        "adjustment_amount, fee_amount, net_amount from marts.analytics_daily where source = 'stripe'"
    )
    for day, currency, gross, refunds, disputes, adjustments, fees, net in rows:
        assert net == gross + refunds + disputes + adjustments - fees, (day, currency)
    # Every non-payout type's net is in analytics_daily: the platform's USD total is the landed
    # net less payouts, transfers and top-ups, written out below from the scenario's rows.
    classes = money_classification()
    landed = 0
    for bt in money_warehouse.scenario.table("stripe", "balance_transactions"):
        if bt["account_id"] != P:
            continue
        btype = bt["type"]
        money_class = classes["types"].get(btype, ["", "unclassified"])[1]
        if money_class != "payout":
            landed += bt["net"]
    total = money_warehouse.query(
        "select sum(net_amount) from marts.analytics_daily where source = 'stripe' and currency = 'usd'"
    )[0][0]
    assert total == landed


def test_a_paid_automatic_payout_reconciles_to_the_transactions_it_settled(
    money_warehouse: DuckdbWarehouse,
) -> None:
    payouts = {
        r[0]: r[1:]
        for r in money_warehouse.query(
            "select payout_id, amount, status, automatic, transactions_count, transactions_net, "
            "reconciled from marts.payouts"
        )
    }
    # 2,900 + (-400) + (-300) = 2,200: its own payout transaction left out.
    assert payouts["po_auto"] == (2200, "paid", True, 3, 2200, True)
    assert payouts["po_manual"] == (1000, "paid", False, 0, None, None)


def test_balances_split_available_from_pending_per_day(money_warehouse: DuckdbWarehouse) -> None:
    jp = money_warehouse.query(
        "select date_day, available_amount, pending_amount from marts.balances "
        "where stripe_account_id = 'acct_jp' and not is_current order by date_day"
    )
    day = lambda ts: datetime.fromtimestamp(ts, UTC).date()  # noqa: E731
    # ¥1,446 on DAY2 (available DAY4); -¥500 and ¥2,892 on DAY3 (available DAY5).
    assert jp == [
        (day(DAY3 - DAY), 0, 1446),
        (day(DAY3), 0, 1446 - 500 + 2892),
        (day(DAY3 + DAY), 1446, -500 + 2892),
        (day(DAY3 + 2 * DAY), 1446 - 500 + 2892, 0),
    ]
    current = dict(
        (r[0], r[1:])
        for r in money_warehouse.query(
            "select stripe_account_id, date_day, available_amount, pending_amount "
            "from marts.balances where is_current"
        )
    )
    assert current["acct_jp"] == (datetime.now(UTC).date(), 3838, 0)
    # Only the card payment of an hour ago is pending (1,000 - 59); everything else is available.
    everything = sum(
        bt["net"]
        for bt in money_warehouse.scenario.table("stripe", "balance_transactions")
        if bt["account_id"] == P
    )
    assert current[P] == (datetime.now(UTC).date(), everything - 941, 941)


def test_an_invoice_paid_charge_maps_to_its_sku_through_the_invoice_payment(
    money_warehouse: DuckdbWarehouse,
) -> None:
    assert money_warehouse.query(
        "select product_id, price_id, sku_id, mapping_status from marts.transactions "
        "where external_id = 'txn_sub'"
    ) == [("app_prod_pro", "app_price_pro", "sku_pro_monthly", "mapped")]


# --------------------------------------------------------------------------- changes over time


def _transactions(warehouse: DuckdbWarehouse) -> list[tuple]:
    return warehouse.query(
        "select * exclude (mapping_note, source_load_id) from marts.transactions "
        "order by transaction_id"
    )


def _analytics(warehouse: DuckdbWarehouse) -> list[tuple]:
    return warehouse.query("select * from marts.analytics_daily order by all")


def test_a_bank_debit_that_fails_a_week_later_nets_to_zero_and_never_stops_the_build(
    tmp_path: Path,
) -> None:
    warehouse = _warehouse(tmp_path)
    # An ACH debit of $50.00 made 8 days before the newest row, credited as `pending`
    # (ACH Direct Debit fee 0.8%: $0.40).
    made = DAY1 - 6 * DAY
    con = duckdb.connect(str(warehouse.path))
    con.execute(
        "insert into stripe.charges (id, account_id, payment_intent, amount, amount_captured, "
        "amount_refunded, currency, status, paid, captured, refunded, disputed, "
        "balance_transaction, payment_method_type, metadata, created, livemode, is_deleted, "
        "_dlt_load_id) values ('ch_ach', ?, null, 5000, 5000, 0, 'usd', 'pending', false, true, "
        "false, false, 'txn_ach', 'us_bank_account', '{}', ?, false, false, '1767600000.123456')",
        [P, made],
    )
    con.execute(
        "insert into stripe.balance_transactions (id, account_id, amount, fee, net, currency, "
        "reporting_category, type, source, status, available_on, created, _dlt_load_id) values "
        "('txn_ach', ?, 5000, 40, 4960, 'usd', 'charge', 'payment', 'ch_ach', 'pending', ?, ?, "
        "'1767600000.123456')",
        [P, made + 4 * DAY, made],
    )
    con.close()
    built = warehouse.dbt("build")
    assert built.ok, built.output[-4000:]
    assert warehouse.query(
        "select status, money_class from marts.transactions where external_id = 'txn_ach'"
    ) == [("pending", "revenue")]

    # A later sync sees the charge failed before its payment_failure_refund has landed: the
    # money no longer adds up for that charge, which warns; the build goes on.
    warehouse.execute(
        f"update stripe.charges set status = 'failed', paid = false, "
        f"_dlt_load_id = '{LATER_LOAD_ID}' where id = 'ch_ach'"
    )
    halfway = warehouse.dbt("build", "--select", "transactions+")
    assert halfway.ok, halfway.output[-4000:]
    assert re.search(r"WARN 1 warn_failed_charges_moved_money", halfway.output)
    assert warehouse.query(
        "select status from marts.transactions where external_id = 'txn_ach'"
    ) == [("failed",)]
    assert ("failed_charge_moved_money", "ch_ach", 4960) in warehouse.query(
        "select check_name, object_id, amount from marts.data_warnings"
    )

    # The failure lands: -$50.00 and the fee returned, the debit nets to zero.
    failed_at = made + 3 * DAY
    warehouse.execute(
        "insert into stripe.balance_transactions (id, account_id, amount, fee, net, currency, "
        "reporting_category, type, source, status, available_on, created, _dlt_load_id) values "
        f"('txn_ach_failure', '{P}', -5000, -40, -4960, 'usd', 'charge_failure', "
        f"'payment_failure_refund', 'ch_ach', 'available', {failed_at}, {failed_at}, "
        f"'1767800000.000001')"
    )
    done = warehouse.dbt("build", "--select", "transactions+")
    assert done.ok, done.output[-4000:]
    assert "warn_failed_charges_moved_money" not in re.findall(r"WARN 1 (\S+)", done.output)
    rows = warehouse.query(
        "select external_id, type, money_class, status, amount, fee_amount, net_amount "
        "from marts.transactions where charge_id = 'ch_ach' order by external_id"
    )
    assert rows == [
        ("txn_ach", "charge", "revenue", "failed", 5000, 40, 4960),
        (
            "txn_ach_failure",
            "bank_debit_failure",
            "bank_debit_failure",
            "failed",
            -5000,
            -40,
            -4960,
        ),
    ]
    day = lambda ts: datetime.fromtimestamp(ts, UTC).date()  # noqa: E731
    daily = {
        r[0]: r[1:]
        for r in warehouse.query(
            "select date_day, gross_amount, refund_amount, fee_amount, net_amount "
            "from marts.analytics_daily where source = 'stripe' and currency = 'usd'"
        )
    }
    assert daily[day(made)] == (5000, 0, 40, 4960)
    assert daily[day(failed_at)] == (0, -5000, -40, -4960)

    incremental = (_transactions(warehouse), _analytics(warehouse))
    full = warehouse.dbt("build", "--full-refresh", "--select", "transactions+")
    assert full.ok, full.output[-4000:]
    assert (_transactions(warehouse), _analytics(warehouse)) == incremental


def test_a_later_sync_moving_pending_to_available_moves_the_balance(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path)
    assert warehouse.dbt("build").ok
    before = warehouse.query(
        f"select available_amount, pending_amount from marts.balances "
        f"where stripe_account_id = '{P}' and is_current"
    )[0]
    # The source re-lists the pending window and merges: the same id, now available.
    warehouse.execute(
        f"update stripe.balance_transactions set status = 'available', "
        f"_dlt_load_id = '{LATER_LOAD_ID}' where id = 'txn_recent'"
    )
    assert warehouse.dbt("build", "--select", "transactions+ balances").ok
    after = warehouse.query(
        f"select available_amount, pending_amount from marts.balances "
        f"where stripe_account_id = '{P}' and is_current"
    )[0]
    assert after == (before[0] + 941, before[1] - 941) and after[1] == 0


def test_a_payout_that_does_not_reconcile_fails_the_build(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path)
    # One cent more paid out than the settled transactions' net.
    warehouse.execute("update stripe.payouts set amount = 2201 where id = 'po_auto'")
    result = warehouse.dbt("build")
    assert not result.ok
    assert re.search(r"FAIL 1 assert_paid_automatic_payouts_reconcile", result.output)
    assert warehouse.query("select reconciled from marts.payouts where payout_id = 'po_auto'") == [
        (False,)
    ]
