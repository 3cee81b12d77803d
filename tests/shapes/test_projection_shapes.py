"""Stripe's own example objects (and variants of them: every payment method, nulls where the spec
allows them, fields Stripe adds later, deleted objects, Connect and thin events) projected by the
source's columns.py and landed through the source's dlt pipeline into a real DuckDB file: every
column lands, money stays integer, every row carries its account, and no card data is stored."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pytest

from stripe_pipeline.settings import Settings
from stripe_pipeline.stripe_source import columns as source_columns
from stripe_pipeline.stripe_source import make_pipeline
from stripe_pipeline.stripe_source.columns import TABLES, to_arrow
from stripe_pipeline.stripe_source.settings import RESOURCES
from tests.shapes.shapes import (
    Leaves,
    charge_paid_with,
    collect_leaves,
    every_charge_variant,
    find_card_data,
    fixture,
    nullable_properties,
)

ACCOUNT = "acct_1ShapesTestAcct"
MONEY = frozenset(
    {"amount", "amount_captured", "amount_refunded", "amount_received", "fee", "net", "total",
     "amount_paid", "unit_amount"}
)  # fmt: skip
# Landed table -> the spec schema of its objects.
SCHEMAS = {
    "products": "product",
    "prices": "price",
    "payment_intents": "payment_intent",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
    "balance_transactions": "balance_transaction",
    "invoices": "invoice",
    "invoice_line_items": "line_item",
    "events": "event",
}


def event_about(obj: dict[str, Any], type_: str, **extra: Any) -> dict[str, Any]:
    event = fixture("event")
    event["id"] = f"evt_shapes_{type_.replace('.', '_')}_{obj.get('id', 'x')}"
    event["type"] = type_
    event["data"] = {"object": obj}
    event.update(extra)
    return event


def reference_objects() -> dict[str, list[dict[str, Any]]]:
    """Per landed table, Stripe's example objects of that table (plus the embedded line items
    of the example invoice, the example invoice item, and an event about each object)."""
    invoice = fixture("invoice")
    objects: dict[str, list[dict[str, Any]]] = {
        "products": [fixture("product")],
        "prices": [fixture("price")],
        "payment_intents": [fixture("payment_intent")],
        "charges": [fixture("charge")],
        "refunds": [fixture("refund")],
        "disputes": [fixture("dispute")],
        "balance_transactions": [fixture("balance_transaction")],
        "invoices": [invoice],
        "invoice_line_items": [
            fixture("line_item"),
            *copy.deepcopy(invoice["lines"]["data"]),
            fixture("invoiceitem"),
        ],
    }
    objects["events"] = [fixture("event")] + [
        event_about(obj, f"{obj['object']}.updated")
        for table, objs in objects.items()
        for obj in objs
    ]
    return objects


# --------------------------------------------------------------------------- landing


def land(tmp_path: Path, tables: dict[str, list[pa.Table]]) -> Path:
    """Load Arrow tables as the source's resources would (same names, merge dispositions and
    primary key) through the source's own dlt pipeline; the DuckDB file's path."""
    settings = Settings(data_dir=tmp_path, warehouse_path=tmp_path / "warehouse.duckdb")
    pipeline = make_pipeline(settings, ACCOUNT)
    resources = []
    for name, arrow_tables in tables.items():
        spec = RESOURCES[name]
        resources.append(
            dlt.resource(
                arrow_tables,
                name=name,
                table_name=name,
                write_disposition=spec.write_disposition,
                primary_key=spec.primary_key,
                max_table_nesting=0,
            )
        )
    pipeline.run(resources)
    return Path(settings.warehouse_path)


def project_and_land(tmp_path: Path, objects: dict[str, list[dict[str, Any]]]) -> Path:
    return land(tmp_path, {t: [to_arrow(t, objs, ACCOUNT)] for t, objs in objects.items()})


def stored_texts(warehouse: Path) -> Iterator[tuple[str, str]]:
    """Every non-null text value of every landed column (dlt's own bookkeeping aside)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cols = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'stripe' and data_type = 'VARCHAR' "
            "and table_name not like '_dlt%' and column_name not like '_dlt%'"
        ).fetchall()
        for table, column in cols:
            for (value,) in con.execute(
                f'select "{column}" from stripe."{table}" where "{column}" is not null'
            ).fetchall():
                yield f"{table}.{column}", value
    finally:
        con.close()


def landed(warehouse: Path, table: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'stripe' and table_name = ?",
                [table],
            ).fetchall()
        )
        cur = con.execute(f'select * from stripe."{table}"')
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    return types, rows


def assert_landed_well(warehouse: Path, objects: dict[str, list[dict[str, Any]]]) -> None:
    for table, objs in objects.items():
        types, rows = landed(warehouse, table)
        missing = [c.name for c in TABLES[table] if c.name not in types]
        assert not missing, f"{table}: columns not landed: {missing}"
        assert len(rows) == len({o.get("id") for o in objs}), table
        assert all(r["account_id"] == ACCOUNT for r in rows), table
        for column in MONEY & set(types):
            assert types[column] == "BIGINT", f"{table}.{column} landed as {types[column]}"
            assert all(isinstance(r[column], int | None) for r in rows), f"{table}.{column}"


def assert_no_card_data(warehouse: Path, inputs: list[Any]) -> Leaves:
    leaves = Leaves()
    for item in inputs:
        leaves.merge(collect_leaves(item))
    hits = find_card_data(leaves, stored_texts(warehouse))
    assert not hits, f"card data landed in the warehouse: {hits[:20]}"
    return leaves


def all_objects(objects: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [o for objs in objects.values() for o in objs]


# --------------------------------------------------------------------------- tests


def test_stripes_example_objects_land_with_every_column_integer_money_and_no_card_data(tmp_path):
    objects = reference_objects()

    warehouse = project_and_land(tmp_path, objects)

    assert_landed_well(warehouse, objects)
    leaves = assert_no_card_data(warehouse, all_objects(objects))
    # The example charge carries a card: the scan had something to look for.
    assert {"4242", "AOB934RVNwzk6xtn", "Jenny Rosen"} <= set(leaves.secrets())
    _, charges = landed(warehouse, "charges")
    assert (charges[0]["card_brand"], charges[0]["card_funding"]) == ("visa", "credit")


def test_a_charge_paid_with_each_payment_method_lands_its_type_and_nothing_else(tmp_path):
    charges = every_charge_variant()
    objects = {
        "charges": charges,
        "events": [event_about(c, "charge.succeeded") for c in charges],
    }

    warehouse = project_and_land(tmp_path, objects)

    assert_landed_well(warehouse, objects)
    leaves = assert_no_card_data(warehouse, all_objects(objects))
    secrets = set(leaves.secrets())
    for value in ("3155", "8421", "JENNY Q CARDHOLDER", "7301", "6791", "4312", "paula.payer@"
                  "example.com", "FUTURE0000111122223333", "742 Evergreen Terrace"):  # fmt: skip
        assert value in secrets
    _, rows = landed(warehouse, "charges")
    by_type = {r["payment_method_type"]: r for r in rows}
    assert set(by_type) == {c["payment_method_details"]["type"] for c in charges}
    assert (by_type["card"]["card_brand"], by_type["card"]["card_funding"]) == ("visa", "debit")
    assert by_type["card_present"]["card_country"] == "US"
    assert by_type["interac_present"]["card_brand"] == "interac"
    for method in ("sepa_debit", "us_bank_account", "klarna", "paypal", "mobilepay"):
        row = by_type[method]
        assert (row["card_brand"], row["card_funding"], row["card_country"]) == (None,) * 3


def _null_everywhere_allowed(obj: dict[str, Any], schema: str) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for name in nullable_properties(schema):
        out[name] = None
    return out


def test_every_field_the_spec_calls_nullable_may_be_null(tmp_path):
    base = reference_objects()
    objects = {
        table: [_null_everywhere_allowed(o, SCHEMAS[table]) for o in objs]
        for table, objs in base.items()
    }
    # Nested nulls inside a card that Stripe documents as nullable (a card without a wallet,
    # country or funding), and a charge with no payment method details at all.
    card_charge = charge_paid_with("card")
    card = card_charge["payment_method_details"]["card"]
    for name in nullable_properties("payment_method_details_card"):
        card[name] = None
    no_details = fixture("charge") | {"id": "ch_shapes_no_details", "payment_method_details": None}
    objects["charges"] += [card_charge, no_details]
    objects["events"].append(
        event_about(
            fixture("charge") | {"id": "ch_null_obj"},
            "charge.updated",
            api_version=None,
            request=None,
            account=None,
        )
    )

    warehouse = project_and_land(tmp_path, objects)

    assert_landed_well(warehouse, objects)
    _, rows = landed(warehouse, "charges")
    nulled = next(r for r in rows if r["id"] == "ch_shapes_card")
    assert (nulled["payment_method_type"], nulled["card_brand"]) == ("card", None)
    assert next(r for r in rows if r["id"] == "ch_shapes_no_details")["payment_method_type"] is None
    assert_no_card_data(warehouse, all_objects(base))


def test_fields_stripe_adds_later_at_top_level_and_nested_change_nothing(tmp_path):
    plain = reference_objects()
    grown = copy.deepcopy(plain)
    for objs in grown.values():
        for obj in objs:
            obj["field_added_in_2027"] = {"nested": [1, {"deeper": "x"}], "last4": "5100"}
            obj["flag_added_in_2027"] = True
    charge = grown["charges"][0]
    charge["payment_method_details"]["card"]["network_pan_suffix"] = "55555555554444"
    charge["payment_method_details"]["card"]["wallet"]["new_wallet"] = {"device_pan": "52004444"}
    charge["payment_method_details"]["new_method_block"] = {"iban": "DE89370400440532013000"}
    charge["billing_details"]["new_identity_field"] = "passport 987654321"

    for table in plain:
        assert to_arrow(table, grown[table], ACCOUNT).equals(to_arrow(table, plain[table], ACCOUNT))
    warehouse = project_and_land(tmp_path, grown)

    assert_landed_well(warehouse, grown)
    leaves = assert_no_card_data(warehouse, all_objects(grown))
    assert {"55555555554444", "52004444", "DE89370400440532013000"} <= set(leaves.secrets())


def test_a_deleted_product_flags_its_row_and_keeps_the_columns(tmp_path):
    deleted = fixture("deleted_product")
    assert set(deleted) == {"id", "object", "deleted"}
    deleted_price = fixture("deleted_price")
    objects = {"products": [deleted], "prices": [deleted_price]}

    warehouse = project_and_land(tmp_path, objects)

    assert_landed_well(warehouse, objects)
    _, products = landed(warehouse, "products")
    assert products[0]["id"] == deleted["id"]
    assert products[0]["is_deleted"] is True
    assert products[0]["name"] is None and products[0]["metadata"] == "{}"
    _, prices = landed(warehouse, "prices")
    assert prices[0]["is_deleted"] is True


def test_events_with_previous_attributes_connect_accounts_and_thin_events_land(tmp_path):
    card_charge = charge_paid_with("card")
    updated = event_about(card_charge, "charge.updated")
    updated["data"]["previous_attributes"] = {
        "billing_details": {"name": "Old Cardholder Name", "email": "old@example.com"},
        "payment_method_details": {"card": {"last4": "1117", "exp_year": 2029}},
        "description": None,
    }
    connect = event_about(fixture("payment_method"), "payment_method.attached",
                          account="acct_1ConnectedShapes")  # fmt: skip
    deleted = event_about(fixture("deleted_product"), "product.deleted")
    # A thin (v2) event: no `data`, a related object, an ISO timestamp.
    thin = {
        "id": "evt_test_65R9Ijk8sX2bS1thin",
        "object": "v2.core.event",
        "type": "v1.billing.meter.error_report_triggered",
        "livemode": False,
        "created": "2026-07-29T06:20:52.246Z",
        "context": "acct_1ConnectedShapes",
        "related_object": {
            "id": "mtr_test_61R9I",
            "type": "billing.meter",
            "url": "/v1/billing/meters/mtr_test_61R9I",
        },
        "reason": {"type": "request", "request": {"id": "req_v2Thin", "idempotency_key": None}},
    }
    events = [updated, connect, deleted, thin]
    objects = {"events": events}

    warehouse = project_and_land(tmp_path, objects)

    assert_landed_well(warehouse, objects)
    _, rows = landed(warehouse, "events")
    by_id = {r["id"]: r for r in rows}
    assert (by_id[updated["id"]]["object_type"], by_id[updated["id"]]["object_id"]) == (
        "charge", card_charge["id"],
    )  # fmt: skip
    assert by_id[connect["id"]]["object_type"] == "payment_method"
    assert by_id[deleted["id"]]["object_id"] == "prod_QXg1hqf4jFNsqG"
    assert by_id[thin["id"]]["type"] == "v1.billing.meter.error_report_triggered"
    assert by_id[thin["id"]]["created"] is None and by_id[thin["id"]]["object_id"] is None
    leaves = assert_no_card_data(warehouse, events)
    assert {"Old Cardholder Name", "1117", "4242"} <= set(leaves.secrets())


@pytest.fixture
def leaky_charges_projection(monkeypatch):
    """A projection that bypasses the allow-list: the charge's payment method details land raw."""
    leak = source_columns.Column(
        "payment_method_details",
        source_columns.STRING,
        source_columns._json("payment_method_details"),
    )
    monkeypatch.setitem(TABLES, "charges", (*TABLES["charges"], leak))
    source_columns.arrow_schema.cache_clear()
    yield
    monkeypatch.undo()
    source_columns.arrow_schema.cache_clear()


def test_the_scan_finds_card_data_when_a_projection_bypasses_the_allow_list(
    tmp_path, leaky_charges_projection
):
    charges = [fixture("charge"), charge_paid_with("sepa_debit"), charge_paid_with("card_present")]
    objects = {"charges": charges}

    warehouse = project_and_land(tmp_path, objects)

    leaves = Leaves()
    for charge in charges:
        leaves.merge(collect_leaves(charge))
    found = {value for _, value, _ in find_card_data(leaves, stored_texts(warehouse))}
    assert {"4242", "AOB934RVNwzk6xtn", "7301", "SepaFprint7301x", "JENNY Q CARDHOLDER", "2030",
            "8", "11"} <= found  # fmt: skip
    with pytest.raises(AssertionError, match="card data landed"):
        assert_no_card_data(warehouse, charges)


def test_values_of_an_unexpected_shape_are_nulled_not_a_failed_load(tmp_path):
    """What Stripe has never sent but a load must survive: an amount beyond int64, an event
    whose `data`/`data.object` is not an object."""
    charge = fixture("charge") | {"id": "ch_shapes_huge", "amount": 2**64, "amount_refunded": -1}
    events = [
        event_about(fixture("charge"), "charge.updated") | {"id": "evt_shapes_str", "data": "x"},
        event_about(fixture("charge"), "charge.updated")
        | {"id": "evt_shapes_objstr", "data": {"object": "ch_123"}},
        event_about(fixture("charge"), "charge.updated") | {"id": "evt_shapes_list", "data": []},
    ]
    objects = {"charges": [charge], "events": events}

    warehouse = project_and_land(tmp_path, objects)

    assert_landed_well(warehouse, objects)
    _, charges = landed(warehouse, "charges")
    assert (charges[0]["amount"], charges[0]["amount_refunded"]) == (None, -1)
    _, rows = landed(warehouse, "events")
    assert {r["object_id"] for r in rows} == {None}
