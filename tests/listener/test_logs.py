"""Logs never hold secrets, OAuth codes, tokens, state values or payload bodies, whatever
happens, and whatever STRIPE_LOG says: a whole session of successes and refusals against the
listener as it runs in production (`stripe-pipeline listener --workers 2`, at DEBUG, with
STRIPE_LOG=debug) is read from its output, which must hold the expected lines, from the workers,
each with a timestamp, level and logger."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from stripe_pipeline.ops_store import OpsStore
from tests.fixtures.listener import (
    PREFIX,
    TEST_OPERATOR_TOKEN,
    TEST_WEBHOOK_SECRET,
    RunningListener,
    authorize,
    charge_succeeded_event,
    encode,
    free_port,
    listener_env,
    listener_settings,
)
from webhook_listener.process import ListenerProcess

pytestmark = pytest.mark.slow

# "2026-11-30 16:20:01,123 INFO webhook_listener.access [4242]: POST /api/... 200 3.1ms"
LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<logger>[\w.]+) "
    r"\[(?P<pid>\d+)\]: (?P<message>.*)$"
)


@pytest.fixture
def production_listener(emulator, ops_sqlite_url: str, tmp_path: Path) -> Iterator[tuple]:
    env = listener_env(
        ops_sqlite_url,
        **emulator.settings_env(),
        STRIPE_CONNECT_ENABLED="1",
        STRIPE_CATALOG_WRITE_ENABLED="1",
        # The SDK's own switch: at debug it prints codes, tokens and whole responses to stderr.
        STRIPE_LOG="debug",
    )
    log_path = tmp_path / "listener.log"
    proc = ListenerProcess(env, free_port(), workers=2, log_path=log_path, log_level="debug")
    proc.start()
    settings = listener_settings(ops_sqlite_url)
    store = OpsStore.open(ops_sqlite_url)
    try:
        yield RunningListener(proc.base_url, settings, store), proc, log_path
    finally:
        proc.stop()
        store.close()


def test_a_session_with_several_workers_logs_the_expected_lines_and_no_secret(
    production_listener, emulator
) -> None:
    running, proc, log_path = production_listener
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

    callback, returned = authorize(running, "p_logs")  # a real code exchange, tokens included
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
    proc.stop()  # flushes every worker's output

    text = log_path.read_text()
    lines = [m for m in map(LINE.match, text.splitlines()) if m]
    worker_lines = [m for m in lines if int(m["pid"]) != proc.proc.pid]
    messages = {(m["level"], m["logger"], m["message"]) for m in worker_lines}

    def logged(level: str, logger: str, pattern: str) -> bool:
        return any(
            lv == level and lg == logger and re.search(pattern, msg) for lv, lg, msg in messages
        )

    # the workers (not only the parent) log, in the documented format
    assert logged("INFO", "webhook_listener.access", rf"^POST {PREFIX}/webhook 200 [\d.]+ms$")
    assert logged(
        "INFO",
        "webhook_listener.webhooks",
        rf"^webhook {event['id']} type=charge.succeeded account=acct_logtest outcome=stored$",
    )
    assert logged(
        "INFO", "webhook_listener.webhooks", rf"^webhook {event['id']} .* outcome=duplicate$"
    )
    assert logged("WARNING", "webhook_listener.webhooks", r"outcome=conflict$")
    assert logged("WARNING", "webhook_listener.webhooks", r"^webhook refused: timestamp outside")
    assert logged(
        "INFO", "webhook_listener.oauth", r"^connected Stripe account acct_\w+ to project p_logs$"
    )
    assert logged("INFO", "webhook_listener.access", rf"^GET {PREFIX}/oauth/callback 400 ")
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
    assert not re.search(r"\brt_[0-9a-zA-Z]{16,}", text)
    assert "access_token" not in text and "refresh_token" not in text
