"""The delivery engine on its own: signed POSTs, retries with backoff until accepted or out of
attempts, no ordering promise, and a clean stop."""

from __future__ import annotations

import json

import stripe

from stripe_emulator.webhooks import DeliveryOptions, DeliveryTarget, WebhookDispatcher

SECRET = "whsec_dispatcher_test_secret"


def _event(n: int) -> dict:
    return {"id": f"evt_{n}", "object": "event", "type": "charge.succeeded", "data": {"object": {}}}


def test_delivers_signed_events_and_reports_each_done(webhook_receiver):
    done: list[tuple[str, bool]] = []
    dispatcher = WebhookDispatcher(
        DeliveryOptions(jitter=0.0), on_done=lambda e, t, ok: done.append((e, ok))
    )
    target = DeliveryTarget("we_1", webhook_receiver.url, SECRET)
    with dispatcher:
        assert dispatcher.deliver(_event(1), [target]) == 1
        assert dispatcher.wait_idle(5)
    [delivery] = webhook_receiver.received
    event = stripe.Webhook.construct_event(
        delivery.body, delivery.headers["Stripe-Signature"], SECRET
    )
    assert event.id == "evt_1"
    assert delivery.headers["User-Agent"].startswith("Stripe/1.0")
    assert done == [("evt_1", True)]


def test_gives_up_after_max_attempts(webhook_receiver):
    webhook_receiver.fail_first = 100
    done: list[bool] = []
    options = DeliveryOptions(base_delay=0.01, max_attempts=3, jitter=0.0)
    with WebhookDispatcher(options, on_done=lambda e, t, ok: done.append(ok)) as dispatcher:
        dispatcher.deliver(_event(2), [DeliveryTarget("we_1", webhook_receiver.url, SECRET)])
        assert dispatcher.wait_idle(5)
    assert webhook_receiver.requests_seen == 3
    assert [a.attempt for a in dispatcher.attempts] == [1, 2, 3]
    assert done == [False]


def test_connection_errors_are_retried(webhook_receiver):
    options = DeliveryOptions(base_delay=0.01, max_attempts=2, jitter=0.0)
    with WebhookDispatcher(options) as dispatcher:
        dispatcher.deliver(_event(3), [DeliveryTarget("we_1", "http://127.0.0.1:9/none", SECRET)])
        assert dispatcher.wait_idle(5)
    assert [a.status for a in dispatcher.attempts] == [None, None]
    assert all(a.error for a in dispatcher.attempts)


def test_order_is_not_guaranteed(webhook_receiver):
    options = DeliveryOptions(jitter=0.05, seed=1, concurrency=8)
    target = DeliveryTarget("we_1", webhook_receiver.url, SECRET)
    with WebhookDispatcher(options) as dispatcher:
        for n in range(20):
            dispatcher.deliver(_event(n), [target])
        assert dispatcher.wait_idle(5)
    order = [json.loads(r.body)["id"] for r in webhook_receiver.received]
    assert sorted(order) == sorted(f"evt_{n}" for n in range(20))
    assert order != [f"evt_{n}" for n in range(20)]


def test_stop_cancels_pending_retries_promptly(webhook_receiver):
    webhook_receiver.fail_first = 100
    options = DeliveryOptions(base_delay=30, max_attempts=5, jitter=0.0)
    dispatcher = WebhookDispatcher(options)
    dispatcher.start()
    dispatcher.deliver(_event(4), [DeliveryTarget("we_1", webhook_receiver.url, SECRET)])
    webhook_receiver.wait_for(lambda rs: webhook_receiver.requests_seen >= 1)
    dispatcher.stop(timeout=5)
    assert dispatcher._thread is None
    assert (
        dispatcher.deliver(_event(5), [DeliveryTarget("we_1", webhook_receiver.url, SECRET)]) == 0
    )
