"""The operator's routes: the bearer token, the feature flags, and the sync queue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fixtures.listener import TEST_OPERATOR_TOKEN

PREFIX = "/api/integrations/stripe"
OPERATOR_ROUTES = [
    ("GET", f"{PREFIX}/oauth/start?project_id=p1"),
    ("POST", f"{PREFIX}/disconnect?project_id=p1"),
    ("POST", f"{PREFIX}/sync/catalog?project_id=p1"),
    ("POST", f"{PREFIX}/sync/transactions?project_id=p1"),
    ("POST", f"{PREFIX}/products"),
    ("POST", f"{PREFIX}/prices"),
]


@pytest.mark.parametrize(("method", "path"), OPERATOR_ROUTES)
def test_operator_routes_refuse_a_missing_or_wrong_token(
    make_listener, method: str, path: str
) -> None:
    running = make_listener(catalog_write_enabled=True)
    with running.client() as anonymous, running.client("wrong-" + TEST_OPERATOR_TOKEN) as wrong:
        for client in (anonymous, wrong):
            answer = client.request(method, path)
            assert answer.status_code == 401
            assert "OPERATOR_TOKEN" in answer.json()["error"]
            assert answer.headers["www-authenticate"].startswith("Bearer")
    with running.client() as client:
        answer = client.request(method, path, headers={"Authorization": TEST_OPERATOR_TOKEN})
        assert answer.status_code == 401  # the scheme is required too


@pytest.mark.parametrize(("method", "path"), OPERATOR_ROUTES)
def test_without_an_operator_token_configured_operator_routes_say_to_set_it(
    make_listener, method, path
) -> None:
    running = make_listener(operator_token="", catalog_write_enabled=True)
    with running.client("anything") as client:
        answer = client.request(method, path)
    assert answer.status_code == 503
    assert "set OPERATOR_TOKEN" in answer.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{PREFIX}/oauth/start?project_id=p1"),
        ("GET", f"{PREFIX}/oauth/callback?state=x&code=y"),
        ("POST", f"{PREFIX}/disconnect?project_id=p1"),
    ],
)
def test_with_connect_off_the_oauth_and_account_routes_answer_404(
    make_listener, method, path
) -> None:
    running = make_listener(connect_enabled=False)
    with running.operator() as client:
        answer = client.request(method, path)
    assert answer.status_code == 404
    assert "STRIPE_CONNECT_ENABLED" in answer.json()["error"]


@pytest.mark.parametrize("route", ["products", "prices"])
def test_catalog_write_is_off_by_default_and_says_how_to_turn_it_on(listener, route: str) -> None:
    with listener.operator() as client:
        answer = client.post(f"{PREFIX}/{route}", json={"project_id": "p1"})
    assert answer.status_code == 404
    assert "STRIPE_CATALOG_WRITE_ENABLED" in answer.json()["error"]


def test_sync_catalog_is_queued_and_answered_202_with_its_id(listener) -> None:
    listener.store.upsert_account(
        project_id="p1", stripe_account_id="acct_1", livemode=False, scope="read_only"
    )
    with listener.operator() as client:
        answer = client.post(f"{PREFIX}/sync/catalog", json={"project_id": "p1"})
    assert answer.status_code == 202, answer.text
    request_id = answer.json()["id"]
    queued = listener.store.get_sync_request(request_id)
    assert (queued.kind, queued.project_id, queued.account_id, queued.status) == (
        "catalog",
        "p1",
        None,
        "pending",
    )
    assert [r.id for r in listener.store.pending_sync_requests()] == [request_id]


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("2026-01-31", int(datetime(2026, 1, 31, tzinfo=UTC).timestamp())),
        ("2026-01-31T12:00:00Z", int(datetime(2026, 1, 31, 12, tzinfo=UTC).timestamp())),
        ("1767225600", 1767225600),
    ],
)
def test_sync_transactions_accepts_since_as_iso_date_timestamp_or_unix_seconds(
    listener, since, expected
) -> None:
    listener.store.upsert_account(
        project_id="p1", stripe_account_id="acct_1", livemode=False, scope="read_only"
    )
    with listener.operator() as client:
        answer = client.post(
            f"{PREFIX}/sync/transactions", params={"account_id": "acct_1", "since": since}
        )
    assert answer.status_code == 202, answer.text
    queued = listener.store.get_sync_request(answer.json()["id"])
    assert (queued.kind, queued.account_id, queued.project_id, queued.since) == (
        "transactions",
        "acct_1",
        "p1",
        expected,
    )


@pytest.mark.parametrize("since", ["yesterday", "2026-13-45", "-5", "9999999999"])
def test_sync_transactions_refuses_a_malformed_since_with_the_accepted_forms(
    listener, since
) -> None:
    listener.store.upsert_account(
        project_id="p1", stripe_account_id="acct_1", livemode=False, scope="read_only"
    )
    with listener.operator() as client:
        answer = client.post(
            f"{PREFIX}/sync/transactions", params={"project_id": "p1", "since": since}
        )
    assert answer.status_code == 400
    assert "ISO date" in answer.json()["error"]
    assert listener.store.pending_sync_requests() == []


def test_sync_refuses_unknown_accounts_and_projects_without_accounts(listener) -> None:
    with listener.operator() as client:
        unknown = client.post(f"{PREFIX}/sync/catalog", params={"account_id": "acct_nope"})
        empty = client.post(f"{PREFIX}/sync/catalog", params={"project_id": "p_empty"})
        neither = client.post(f"{PREFIX}/sync/catalog")
    assert unknown.status_code == 404 and "acct_nope" in unknown.json()["error"]
    assert empty.status_code == 404 and "oauth/start" in empty.json()["error"]
    assert neither.status_code == 400 and "project_id or account_id" in neither.json()["error"]
    assert listener.store.pending_sync_requests() == []


def test_with_connect_off_a_sync_defaults_to_the_platform_project(make_listener) -> None:
    running = make_listener(connect_enabled=False, platform_project_id="platform")
    with running.operator() as client:
        answer = client.post(f"{PREFIX}/sync/transactions?since=2026-01-01")
    assert answer.status_code == 202
    queued = running.store.get_sync_request(answer.json()["id"])
    assert (queued.project_id, queued.account_id) == ("platform", None)


def test_a_catalog_sync_takes_no_since(listener) -> None:
    with listener.operator() as client:
        answer = client.post(
            f"{PREFIX}/sync/catalog", params={"project_id": "default", "since": "2026-01-01"}
        )
    assert answer.status_code == 400
    assert "no since" in answer.json()["error"]


def test_the_webhook_callback_and_healthz_need_no_operator_token(listener) -> None:
    with listener.client() as client:
        assert client.get("/healthz").status_code == 200
        # refused for their own reasons, never for a missing token
        assert client.post(f"{PREFIX}/webhook", content=b"{}").status_code == 400
        assert client.get(f"{PREFIX}/oauth/callback").status_code == 400
