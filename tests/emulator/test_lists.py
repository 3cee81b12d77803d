"""List semantics as Stripe has them: limit, newest first, cursors both ways, created filters,
has_more and the list url the SDK pages with."""

from __future__ import annotations

import pytest

from tests.emulator.helpers import get, ids


def all_charge_ids(emu) -> list[str]:
    out: list[str] = []
    params: dict = {"limit": 100}
    while True:
        body = get(emu, "/v1/charges", params).json()
        out += [o["id"] for o in body["data"]]
        if not body["has_more"]:
            return out
        params["starting_after"] = out[-1]


def test_default_limit_is_ten_and_list_shape_matches_stripe(emulator):
    body = get(emulator, "/v1/charges").json()
    assert body["object"] == "list"
    assert body["url"] == "/v1/charges"
    assert len(body["data"]) == 10
    assert body["has_more"] is True


def test_lists_are_newest_first_with_a_stable_order(emulator):
    every = all_charge_ids(emulator)
    assert len(every) == 60 and len(set(every)) == 60
    created = [get(emulator, f"/v1/charges/{i}").json()["created"] for i in every[:15]]
    assert created == sorted(created, reverse=True)
    assert every == all_charge_ids(emulator)


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-1"])
def test_limit_outside_1_to_100_is_a_400_naming_limit(emulator, limit):
    response = get(emulator, "/v1/charges", {"limit": limit})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "limit"


def test_starting_after_and_ending_before_page_both_ways(emulator):
    every = all_charge_ids(emulator)
    page = get(emulator, "/v1/charges", {"limit": 5, "starting_after": every[9]})
    assert ids(page) == every[10:15]
    assert page.json()["has_more"] is True
    back = get(emulator, "/v1/charges", {"limit": 5, "ending_before": every[10]})
    assert ids(back) == every[5:10]
    assert back.json()["has_more"] is True
    first = get(emulator, "/v1/charges", {"limit": 5, "ending_before": every[3]})
    assert ids(first) == every[0:3]
    assert first.json()["has_more"] is False
    last = get(emulator, "/v1/charges", {"limit": 5, "starting_after": every[-2]})
    assert ids(last) == every[-1:]
    assert last.json()["has_more"] is False


def test_both_cursors_at_once_is_a_400(emulator):
    every = all_charge_ids(emulator)
    response = get(emulator, "/v1/charges", {"starting_after": every[1], "ending_before": every[5]})
    assert response.status_code == 400


def test_a_cursor_naming_no_object_is_a_404_on_that_parameter(emulator):
    response = get(emulator, "/v1/charges", {"starting_after": "ch_doesnotexist"})
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "starting_after"


def test_created_filters_are_inclusive_or_exclusive_as_named(emulator):
    every = all_charge_ids(emulator)
    objs = [get(emulator, f"/v1/charges/{i}").json() for i in every[20:30]]
    lo, hi = objs[-1]["created"], objs[0]["created"]
    inclusive = get(emulator, "/v1/charges", {"created[gte]": lo, "created[lte]": hi, "limit": 100})
    expected = {o["id"] for o in objs}
    assert expected <= set(ids(inclusive))
    assert all(lo <= o["created"] <= hi for o in inclusive.json()["data"])
    exclusive = get(emulator, "/v1/charges", {"created[gt]": lo, "created[lt]": hi, "limit": 100})
    assert all(lo < o["created"] < hi for o in exclusive.json()["data"])
    exact = get(emulator, "/v1/charges", {"created": hi, "limit": 100})
    assert objs[0]["id"] in ids(exact)
    assert all(o["created"] == hi for o in exact.json()["data"])


def test_resource_filters_select_related_objects(emulator):
    refund = get(emulator, "/v1/refunds", {"limit": 1}).json()["data"][0]
    by_charge = get(emulator, "/v1/refunds", {"charge": refund["charge"]})
    assert ids(by_charge) == [refund["id"]]
    charges = get(emulator, "/v1/charges", {"payment_intent": refund["payment_intent"]})
    assert ids(charges) == [refund["charge"]]
    bts = get(emulator, "/v1/balance_transactions", {"source": refund["id"]})
    assert ids(bts) == [refund["balance_transaction"]]
    refunds_only = get(emulator, "/v1/balance_transactions", {"type": "refund", "limit": 100})
    assert {o["type"] for o in refunds_only.json()["data"]} == {"refund"}
    archived = get(emulator, "/v1/products", {"active": "false"}).json()["data"]
    assert archived and all(p["active"] is False for p in archived)
    product = archived[0]["id"]
    prices = get(emulator, "/v1/prices", {"product": product}).json()["data"]
    assert prices and {p["product"] for p in prices} == {product}
    recurring = get(emulator, "/v1/prices", {"type": "recurring", "limit": 100}).json()["data"]
    assert recurring and all(p["recurring"] for p in recurring)


def test_customer_filter_lists_that_customers_charges(emulator):
    charge = next(
        c for c in get(emulator, "/v1/charges", {"limit": 100}).json()["data"] if c["customer"]
    )
    listed = get(emulator, "/v1/charges", {"customer": charge["customer"], "limit": 100}).json()
    assert charge["id"] in [c["id"] for c in listed["data"]]
    assert {c["customer"] for c in listed["data"]} == {charge["customer"]}


def test_sdk_auto_paging_iter_walks_more_than_a_hundred_objects(make_emulator):
    emu = make_emulator(charges=250)
    client = emu.client()
    seen = [c.id for c in client.v1.charges.list({"limit": 100}).auto_paging_iter()]
    assert len(seen) == 250 and len(set(seen)) == 250
    bts = list(client.v1.balance_transactions.list({"limit": 100}).auto_paging_iter())
    assert len(bts) > 100


def test_invoice_lines_list_price_details(emulator):
    invoice = get(emulator, "/v1/invoices", {"limit": 1}).json()["data"][0]
    lines = get(emulator, f"/v1/invoices/{invoice['id']}/lines").json()
    assert lines["url"] == f"/v1/invoices/{invoice['id']}/lines"
    line = lines["data"][0]
    assert line["object"] == "line_item"
    details = line["pricing"]["price_details"]
    assert details["price"].startswith("price_") and details["product"].startswith("prod_")
    assert sum(li["amount"] for li in lines["data"]) == invoice["total"]


def test_prices_filter_by_lookup_keys(emulator):
    body = get(
        emulator,
        "/v1/prices",
        [("lookup_keys[]", "pro_plan_monthly"), ("lookup_keys[]", "starter_plan_monthly")],
    ).json()
    assert sorted(p["lookup_key"] for p in body["data"]) == [
        "pro_plan_monthly",
        "starter_plan_monthly",
    ]


def test_sdk_auto_paging_iter_walks_backwards_from_ending_before(make_emulator):
    emu = make_emulator(accounts=0, charges=250)
    client = emu.client()
    forward = [c.id for c in client.v1.charges.list({"limit": 100}).auto_paging_iter()]
    backward = [
        c.id
        for c in client.v1.charges.list(
            {"limit": 30, "ending_before": forward[-1]}
        ).auto_paging_iter()
    ]
    assert backward == forward[-2::-1]


def test_invoices_with_more_than_ten_lines_embed_ten_and_page_the_rest(emulator):
    invoices = get(emulator, "/v1/invoices", {"limit": 100}).json()["data"]
    long = next(i for i in invoices if i["lines"]["has_more"])
    assert len(long["lines"]["data"]) == 10
    first = get(emulator, f"/v1/invoices/{long['id']}/lines", {"limit": 10}).json()
    assert [li["id"] for li in first["data"]] == [li["id"] for li in long["lines"]["data"]]
    assert first["has_more"] is True
    rest = get(
        emulator,
        f"/v1/invoices/{long['id']}/lines",
        {"limit": 10, "starting_after": first["data"][-1]["id"]},
    ).json()
    assert rest["has_more"] is False and rest["data"]
    every = first["data"] + rest["data"]
    assert len({li["id"] for li in every}) == len(every)
    assert sum(li["amount"] for li in every) == long["total"] == long["amount_paid"]
    sdk_lines = list(emulator.client().v1.invoices.line_items.list(long["id"]).auto_paging_iter())
    assert [li.id for li in sdk_lines] == [li["id"] for li in every]
