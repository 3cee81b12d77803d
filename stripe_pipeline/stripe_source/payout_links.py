"""Which balance transactions each automatic payout settled: the `payout_balance_transactions`
table, as Stripe's payout reconciliation report pairs them.

`GET /v1/balance_transactions?payout=po_...` answers for automatic payouts only, and its answer
is final once the payout is `paid` or `failed`: each such payout is fetched once. The payouts are
listed from the oldest one still open (`pending`, `in_transit`) when last seen, so a run lists a
few days of payouts, not the account's history; payouts already linked inside that window are
remembered in the resource state until the window moves past them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import dlt
import pyarrow as pa

from stripe_pipeline.stripe_source import settings as source_settings
from stripe_pipeline.stripe_source.columns import to_arrow
from stripe_pipeline.stripe_source.helpers import StripeHttp, SyncStats, fetch_all

RESOURCE = "payout_balance_transactions"
SETTLED = frozenset({"paid", "failed"})
OPEN = frozenset({"pending", "in_transit"})


def payout_link_rows(
    http: StripeHttp,
    account_id: str,
    stats: SyncStats,
    clock: Callable[[], float] = time.time,
    state: dict[str, Any] | None = None,
) -> Iterator[pa.Table]:
    """The link rows of every automatic payout settled since the last run (dlt resource body);
    `clock` is Stripe's time. `state`: the resource's dlt state by default; a batch of accounts
    passes the account's own (stripe_source/batch.py)."""
    state = dlt.current.resource_state(RESOURCE) if state is None else state
    resource_stats = stats.resource(RESOURCE)
    started = time.monotonic()
    listed_at = int(clock()) - source_settings.BOUNDARY_OVERLAP_SECONDS
    since = state.get("open_from")
    linked: dict[str, int] = dict(state.get("linked") or {})
    params: dict[str, Any] = {"created": {"gte": since}} if since is not None else {}
    oldest_open: int | None = None
    for payout in fetch_all(http, "/v1/payouts", params, RESOURCE):
        payout_id, created = payout.get("id"), payout.get("created") or 0
        status = payout.get("status")
        if status in OPEN:
            oldest_open = created if oldest_open is None else min(oldest_open, created)
        if status not in SETTLED or not payout.get("automatic") or payout_id in linked:
            continue
        txns = list(fetch_all(http, "/v1/balance_transactions", {"payout": payout_id}, RESOURCE))
        table = to_arrow(RESOURCE, txns, account_id, payout_id=payout_id)
        linked[payout_id] = created
        resource_stats.rows += table.num_rows
        if table.num_rows:
            yield table
    open_from = listed_at if oldest_open is None else min(oldest_open, listed_at)
    state["open_from"] = open_from
    state["linked"] = {pid: created for pid, created in linked.items() if created >= open_from}
    resource_stats.seconds += time.monotonic() - started
