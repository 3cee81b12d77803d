"""Logs never hold secrets, OAuth codes, tokens, state values or payload bodies, whatever
happens: a whole session of successes and refusals is logged at DEBUG and searched."""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import parse_qs, urlsplit

from tests.fixtures.listener import (
    PREFIX,
    TEST_OPERATOR_TOKEN,
    TEST_WEBHOOK_SECRET,
    authorize,
    charge_succeeded_event,
    encode,
)


def test_a_session_of_successes_and_refusals_logs_no_secret(
    make_listener, emulator, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    running = make_listener(
        stripe_client_secret=emulator.api_key,
        stripe_client_id=emulator.client_id,
        api_base=emulator.base_url,
        connect_base=emulator.base_url,
        catalog_write_enabled=True,
    )
    marker = "PAYLOAD-MARKER-do-not-log"
    event = charge_succeeded_event(account="acct_logtest")
    event["data"]["object"]["description"] = marker
    body = encode(event)
    assert running.post_event(body).status_code == 200
    assert running.post_event(body).status_code == 200  # duplicate
    tampered = encode({**event, "type": "charge.refunded"})
    assert running.post_event(tampered).status_code == 200  # conflict
    assert running.post_event(body, secret="whsec_wrong_" + "e5" * 16).status_code == 400
    assert running.post_event(body, timestamp=int(time.time()) - 3600).status_code == 400

    callback, returned = authorize(running, "p_logs")
    assert callback.status_code == 200
    with running.client() as browser:  # replayed callback URL: code and state in the query again
        assert browser.get(f"{PREFIX}/oauth/callback", params=returned).status_code == 400
    with running.operator() as operator:
        start = operator.get(f"{PREFIX}/oauth/start", params={"project_id": "p_logs"})
        fresh_state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        operator.post(
            f"{PREFIX}/products", json={"project_id": "p_logs", "app_product_id": "x1", "name": "N"}
        )
        operator.post(
            f"{PREFIX}/sync/transactions", params={"project_id": "p_logs", "since": "2026-01-01"}
        )
        operator.post(f"{PREFIX}/disconnect", params={"project_id": "p_logs"})
    with running.client() as browser:  # the code again, with a valid state: invalid_grant
        assert (
            browser.get(
                f"{PREFIX}/oauth/callback", params={"code": returned["code"], "state": fresh_state}
            ).status_code
            == 400
        )
    with running.client("wrong-token") as stranger:
        assert (
            stranger.post(f"{PREFIX}/sync/catalog", params={"project_id": "p_logs"}).status_code
            == 401
        )

    # httpx/httpcore are this test's own browser and Stripe stand-ins, which log their URLs;
    # everything else (listener, uvicorn, the stripe SDK, urllib3 under it) is the server side.
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in server_side)
    assert "webhook" in text and "oauth" in text  # the session was logged at all
    for secret in (
        TEST_WEBHOOK_SECRET,
        TEST_OPERATOR_TOKEN,
        emulator.api_key,
        returned["code"],
        returned["state"],
        fresh_state,
        marker,
        "4242",
        "Xt5EWLLDS7FJjR1c",
    ):
        assert secret not in text, f"a secret-like value reached the logs: {secret[:6]}..."
    # no access or refresh token of any shape either
    assert not re.search(r"\b(sk|rk)_(test|live)_[0-9a-zA-Z]{16,}", text)
    assert not re.search(r"\brt_[0-9a-f]{16,}", text)
