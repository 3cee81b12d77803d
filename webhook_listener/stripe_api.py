"""The listener's Stripe clients, built from settings (never a module-global `stripe.api_key`)."""

from __future__ import annotations

import stripe

from stripe_pipeline.settings import Settings


def stripe_client(settings: Settings, *, retries: int) -> stripe.StripeClient:
    """`retries`: 0 for the OAuth code exchange (a retried exchange of a code that already worked
    fails as invalid_grant); more for creates, which carry idempotency keys."""
    return stripe.StripeClient(
        settings.require_secret_key(),
        client_id=settings.stripe_client_id or None,
        base_addresses={"api": settings.api_base, "connect": settings.connect_base},
        max_network_retries=retries,
    )
