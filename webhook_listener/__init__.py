"""The webhook listener: an ASGI service for Stripe webhooks, Connect OAuth and sync requests (see docs/webhooks.md)."""
