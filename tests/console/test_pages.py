"""The console over HTTP on a real listener: sign-in, CSRF, escaping, pages without data, the
time limit, Sync now, Connect off, the count that says what is new, the CSV export."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx

from stripe_pipeline.publish import SERVING_DB
from tests.fixtures.console import (
    PublishedScenario,
    copy_serving,
    csrf_of,
    publish_new_transactions,
    sign_in,
    signed_in_client,
)
from webhook_listener.console.serving import ServingReader

PAGES = ("/console/connectors", "/console/transactions", "/console/analytics", "/console/catalog")


def test_every_console_page_sends_a_visitor_without_a_session_to_the_sign_in_form(
    published_scenario: PublishedScenario, console_listener
) -> None:
    listener = console_listener(published_scenario.serving_dir)
    with listener.client() as anonymous:
        for path in (*PAGES, "/console/transactions/count", "/console/transactions/export.csv"):
            answer = anonymous.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/console/login?next=%2Fconsole%2F")
        refused = anonymous.post("/console/connectors/sync", data={"csrf": "x"})
        assert refused.status_code == 303 and "/console/login" in refused.headers["location"]
    assert listener.store.pending_sync_requests() == []


def test_the_operator_token_signs_in_with_an_httponly_samesite_cookie_and_a_wrong_one_does_not(
    published_scenario: PublishedScenario, console_listener
) -> None:
    listener = console_listener(published_scenario.serving_dir)
    with listener.client() as browser:
        wrong = sign_in(browser, "not-the-token")
        assert wrong.status_code == 401 and "That is not the operator token." in wrong.text
        assert "console_session" not in browser.cookies
        right = sign_in(browser, listener.settings.operator_token)
        assert right.status_code == 303 and right.headers["location"] == "/console/connectors"
        cookie = next(
            h for h in right.headers.get_list("set-cookie") if h.startswith("console_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        assert browser.get("/console/transactions").status_code == 200
        # The token itself never travels in the cookie: it is a signed random session id.
        assert listener.settings.operator_token not in cookie


def test_a_tampered_session_cookie_is_refused(
    published_scenario: PublishedScenario, console_listener
) -> None:
    listener = console_listener(published_scenario.serving_dir)
    with signed_in_client(listener) as browser:
        session = browser.cookies["console_session"]
        sid, expires, signature = session.split(".")
        forged = f"{sid}.{int(expires) + 86400}.{signature}"
        browser.cookies.clear()
        browser.cookies.set("console_session", forged, domain="127.0.0.1", path="/console")
        answer = browser.get("/console/transactions", follow_redirects=False)
        assert answer.status_code == 303


def test_sign_in_never_redirects_off_the_console(
    published_scenario: PublishedScenario, console_listener
) -> None:
    listener = console_listener(published_scenario.serving_dir)
    with listener.client() as browser:
        form = browser.get("/console/login", params={"next": "https://evil.example/"})
        assert 'name="next" value="/console/connectors"' in form.text


def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    published_scenario: PublishedScenario, console_listener
) -> None:
    listener = console_listener(published_scenario.serving_dir)
    with signed_in_client(listener) as browser:
        for data in ({}, {"csrf": "forged", "platform": "1"}):
            answer = browser.post("/console/connectors/sync", data=data)
            assert answer.status_code == 403 and "Form expired" in answer.text
        logout = browser.post("/console/logout", data={"csrf": "forged"})
        assert logout.status_code == 403
    assert listener.store.pending_sync_requests() == []


def test_every_value_from_the_stores_is_escaped(
    published_scenario: PublishedScenario, console_listener
) -> None:
    listener = console_listener(published_scenario.serving_dir)
    listener.store.upsert_account(
        project_id='<script>alert("x")</script>',
        stripe_account_id="acct_<b>bold</b>",
        livemode=False,
        scope="read_only",
    )
    with signed_in_client(listener) as browser:
        page = browser.get("/console/connectors").text
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "acct_&lt;b&gt;bold&lt;/b&gt;" in page


def test_pages_say_there_is_no_data_before_the_first_publish(tmp_path: Path, console_listener):
    listener = console_listener(tmp_path / "never-published")
    with signed_in_client(listener) as browser:
        for path in PAGES:
            answer = browser.get(path)
            assert answer.status_code == 200, path
            assert "No published data yet" in answer.text, path
        count = browser.get("/console/transactions/count").json()
        assert count["count"] is None and "No published data yet" in count["error"]


def test_pages_say_so_when_the_marts_are_empty(
    published_scenario: PublishedScenario, console_listener, tmp_path: Path
) -> None:
    serving = tmp_path / "empty"
    serving.mkdir()
    with duckdb.connect(str(serving / SERVING_DB)) as empty:
        empty.execute(f"attach '{published_scenario.serving_db}' as published (read_only)")
        empty.execute("create schema marts")
        for (table,) in empty.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'published' and table_schema = 'marts'"
        ).fetchall():
            empty.execute(
                f"create table marts.{table} as select * from published.marts.{table} limit 0"
            )
    listener = console_listener(serving)
    with signed_in_client(listener) as browser:
        assert "No transactions yet" in browser.get("/console/transactions").text
        assert (
            "No transactions yet: marts.analytics_daily is empty"
            in browser.get("/console/analytics").text
        )
        assert "No catalog yet" in browser.get("/console/catalog").text
        connectors = browser.get("/console/connectors").text
        assert "not synced yet" in connectors and "Sync now" in connectors


def test_a_slow_query_is_stopped_at_the_time_limit_while_webhooks_are_still_answered(
    tmp_path: Path, console_listener
) -> None:
    serving = tmp_path / "slow"
    serving.mkdir()
    with duckdb.connect(str(serving / SERVING_DB)) as slow:
        slow.execute("create schema marts")
        # A mart that takes minutes to scan: ten billion generated rows.
        slow.execute(
            "create view marts.transactions as select i::varchar as transaction_id, "
            "'p' as project_id, 'stripe' as source, 'x' as external_id, 'charge' as type, "
            "'succeeded' as status, i as amount, 0 as fee_amount, i as net_amount, "
            "'usd' as currency, null as product_id, null as price_id, null as sku_id, "
            "'unmapped' as mapping_status, '' as mapping_note, null as stripe_account_id, "
            "timestamp '2026-01-01' as created_at from range(10000000000) t(i)"
        )
    listener = console_listener(serving)
    listener.app.state.console_reader = ServingReader(serving / SERVING_DB, timeout_s=2.0)
    with signed_in_client(listener) as browser, ThreadPoolExecutor(1) as pool:
        page = pool.submit(browser.get, "/console/transactions")
        time.sleep(0.5)
        assert not page.done(), "the slow page should still be running"
        with httpx.Client(base_url=listener.base_url, timeout=5) as other:
            # The event loop is free: the console query runs on the console's own threads.
            assert other.get("/healthz").status_code == 200
        assert not page.done()
        answer = page.result(timeout=30)
    assert answer.status_code == 200
    assert "took longer than 2 s and was stopped" in answer.text


def test_sync_now_queues_a_sync_request_and_the_page_shows_its_status(
    published_scenario: PublishedScenario, console_listener
) -> None:
    listener = console_listener(published_scenario.serving_dir)
    listener.store.upsert_account(
        project_id="proj_b", stripe_account_id="acct_jp", livemode=False, scope="read_only"
    )
    with signed_in_client(listener) as browser:
        page = browser.get("/console/connectors")
        answer = browser.post(
            "/console/connectors/sync", data={"csrf": csrf_of(page), "account": "acct_jp"}
        )
        assert answer.status_code == 200
        [queued] = listener.store.pending_sync_requests()
        assert (queued.kind, queued.project_id, queued.account_id) == (
            "transactions",
            "proj_b",
            "acct_jp",
        )
        assert str(answer.url).endswith(f"/console/connectors?sync={queued.id}")
        assert f"Sync request <code>{queued.id}</code>" in answer.text
        assert '<strong class="sync-state">pending</strong>' in answer.text
        listener.store.mark_sync_request(queued.id, "failed", error="Stripe answered 401")
        status = browser.get(f"/console/connectors/sync/{queued.id}").json()
        assert (status["status"], status["error"]) == ("failed", "Stripe answered 401")
        unknown = browser.post(
            "/console/connectors/sync", data={"csrf": csrf_of(page), "account": "acct_nobody"}
        )
        assert unknown.status_code == 404 and "acct_nobody is not connected here" in unknown.text


def test_with_connect_off_only_the_platform_account_shows_and_nothing_can_connect(
    published_scenario: PublishedScenario, console_listener
) -> None:
    listener = console_listener(published_scenario.serving_dir, connect_enabled=False)
    listener.store.upsert_account(
        project_id="proj_b", stripe_account_id="acct_jp", livemode=False, scope="read_only"
    )
    with signed_in_client(listener) as browser:
        page = browser.get("/console/connectors")
        assert "Stripe Connect is off" in page.text
        assert "acct_platform" in page.text and "acct_jp" not in page.text
        assert "/console/connectors/connect" not in page.text
        assert "Disconnect" not in page.text
        refused = browser.post(
            "/console/connectors/connect", data={"csrf": csrf_of(page), "project_id": "proj_b"}
        )
        assert refused.status_code == 404
        synced = browser.post(
            "/console/connectors/sync", data={"csrf": csrf_of(page), "platform": "1"}
        )
        assert synced.status_code == 200
    [queued] = listener.store.pending_sync_requests()
    assert (queued.project_id, queued.account_id) == ("default", None)


def test_the_count_sees_transactions_published_after_the_page_was_opened(
    published_scenario: PublishedScenario, console_listener, tmp_path: Path
) -> None:
    serving = copy_serving(published_scenario, tmp_path / "serving")
    listener = console_listener(serving)
    with signed_in_client(listener) as browser:
        page = browser.get("/console/transactions", params={"currency": "usd"})
        assert 'data-count="13"' in page.text
        assert 'data-count-url="/console/transactions/count?currency=usd"' in page.text
        publish_new_transactions(serving, "usd", 2)
        assert browser.get("/console/transactions/count?currency=usd").json() == {"count": 15}
        assert browser.get("/console/transactions/count?currency=jpy").json() == {"count": 3}


def test_the_csv_export_downloads_the_filtered_rows(
    published_scenario: PublishedScenario, console_listener
) -> None:
    listener = console_listener(published_scenario.serving_dir)
    with signed_in_client(listener) as browser:
        answer = browser.get("/console/transactions/export.csv", params={"source": "manual"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="transactions.csv"' in answer.headers["content-disposition"]
    header, *rows = answer.text.strip().splitlines()
    assert header.startswith("created_at,project_id,source,external_id,type,status,currency,gross")
    assert len(rows) == 1 and ",manual," in rows[0] and ",100.00," in rows[0]
