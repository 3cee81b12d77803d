"""Keep the stripe SDK from printing secrets, whatever `STRIPE_LOG` says.

With `STRIPE_LOG=debug` (or `info`) the SDK prints to stderr itself, outside `logging`: request
bodies (an OAuth code), response bodies (access and refresh tokens, whole charges with card
details) and, at info, Stripe's OAuth error descriptions, which quote the code. It reads the
variable once, at import, into `stripe._util.STRIPE_LOG`, so unsetting the variable later is not
enough. Every entry point (the CLI, each listener worker, the Dagster code location) calls
`silence_stripe_sdk_console()` before its first Stripe request.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("stripe_pipeline")


class _BelowWarning(logging.Filter):
    """Drops the SDK's DEBUG/INFO records even when a host's logging config lowers its level."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def silence_stripe_sdk_console() -> None:
    """Turn off the SDK's own printing (STRIPE_LOG, `stripe.log`) in this process and in the
    processes it starts, and hold its logger at WARNING. Idempotent."""
    import stripe
    from stripe import _util

    requested = os.environ.pop("STRIPE_LOG", None) or _util.STRIPE_LOG or stripe.log
    _util.STRIPE_LOG = None
    stripe.log = None
    sdk_logger = logging.getLogger("stripe")
    sdk_logger.setLevel(logging.WARNING)
    if not any(isinstance(f, _BelowWarning) for f in sdk_logger.filters):
        sdk_logger.addFilter(_BelowWarning())
    if requested:
        log.warning(
            "STRIPE_LOG=%s is ignored: the stripe SDK would print OAuth codes, tokens and card "
            "details; the pipeline logs its own requests without them",
            str(requested)[:10],
        )
