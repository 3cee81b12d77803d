"""What happens to money as the emulator's clock moves past the generated history.

* Automatic payouts go on: each day D after the generated history, at D + `PAYOUT_HOUR`, every
  generated account pays out its available balance per currency, if positive
  (https://docs.stripe.com/payouts). The payout settles every balance transaction whose
  `available_on` is in (previous payout, this payout]: generated ones, and those the API or the
  live-rate timer wrote, so `GET /v1/balance_transactions?payout=` reconciles it as for
  generated payouts. It is `in_transit`, then `paid` `ARRIVAL_DAYS` later (`payout.created`,
  `payout.paid`). These payouts do not fail.
* Balance transactions the API writes turn from `pending` to `available` when the clock passes
  their `available_on`, as generated ones do.
* `balance.available`: when the clock passes the `available_on` of pending funds (an API-made
  charge two days on, a bank debit once cleared, generated payments still pending at start-up),
  the account's balance is sent as a `balance.available` event, once per account and moment
  (https://docs.stripe.com/api/events/types#event_types-balance.available).

Everything runs through `store.schedule` / `store.run_due`: nothing happens between requests,
and a test that moves `store.clock_offset` sees the days in between played out in order.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from stripe_emulator import objects, payouts
from stripe_emulator.money import DAY
from stripe_emulator.store import Account

if TYPE_CHECKING:
    from stripe_emulator.store import Store

PAYOUT_HOUR = payouts.PAYOUT_HOUR
ARRIVAL_DAYS = payouts.ARRIVAL_DAYS


def install(store: Store) -> None:
    """Schedule the automatic payouts and balance.available events of every generated account;
    watch balance transactions written later."""
    store.put_listeners.append(_on_put)
    now = store.now()
    for account in store.accounts.values():
        gen = account.generator
        if gen is None:
            continue
        state = _PayoutState(account)
        first_day = gen.end + DAY  # the generated schedule covers days up to `end`
        store.schedule(first_day + PAYOUT_HOUR, lambda s=state, d=first_day: s.tick(d))
        # Generated funds still pending become available at the coming midnights. Checked
        # when each is due, so nothing is computed at start-up.
        day = now - now % DAY + DAY
        for k in range(payouts.MAX_SETTLE_DAYS + 1):
            store.schedule(
                day + k * DAY, lambda a=account, d=day + k * DAY: _generated_available(a, d)
            )


def _generated_available(account: Account, day: int) -> None:
    if account.generator.schedule.day_sums().get(day, 0) > 0:
        _announce_at(account, day)


class _PayoutState:
    def __init__(self, account: Account) -> None:
        self.account = account
        # per currency, the end of the last paid payout's window: a day that pays nothing
        # carries on into the next (known once the generated schedule is, at the first tick)
        self.since: dict[str, int] = {}
        self.first_since: int | None = None

    def tick(self, day: int) -> None:
        account = self.account
        store = account.store
        if self.first_since is None:
            self.first_since = account.generator.schedule.last_until()
        at = day + PAYOUT_HOUR
        balance = payouts.balance(account, at=at)
        for entry in balance["available"]:
            if entry["amount"] > 0:
                self._pay(entry["amount"], entry["currency"], at)
                self.since[entry["currency"]] = at
        store.schedule(at + DAY, lambda d=day + DAY: self.tick(d))

    def _pay(self, amount: int, currency: str, at: int) -> None:
        account = self.account
        store = account.store
        payout_id, txn_id = store.new_id("po"), store.new_id("txn")
        since = self.since.get(currency, self.first_since)
        assert since is not None
        account.payout_windows[payout_id] = (since, at)
        txn = objects.balance_transaction(
            id=txn_id,
            amount=-amount,
            currency=currency,
            created=at,
            available_on=at,
            source=payout_id,
            type="payout",
            reporting_category="payout",
            description="STRIPE PAYOUT",
        )
        arrival = at - at % DAY + ARRIVAL_DAYS * DAY
        payout = payouts.payout_object(
            id=payout_id,
            amount=amount,
            currency=currency,
            created=at,
            arrival_date=arrival,
            balance_transaction=txn_id,
            status="in_transit",
            destination=payouts.destination(account.generator),
        )
        account.put(txn)
        account.put(payout)
        account.emit_event("payout.created", {**payout, "status": "pending"}, created=at)

        def arrive() -> None:
            paid = {**payout, "status": "paid", "trace_id": payouts.TRACE_SUPPORTED}
            account.put(paid)
            account.emit_event(
                "payout.paid", paid, previous_attributes={"status": "in_transit"}, created=arrival
            )

        store.schedule(arrival, arrive)


# -- balance.available -----------------------------------------------------------------------

# account -> the moments a balance.available is scheduled for (one event per moment)
_ANNOUNCED: weakref.WeakKeyDictionary[Account, set[int]] = weakref.WeakKeyDictionary()


def _announce_at(account: Account, at: int) -> None:
    seen = _ANNOUNCED.setdefault(account, set())
    if at in seen:
        return
    seen.add(at)

    def announce() -> None:
        account.emit_event("balance.available", payouts.balance(account, at=at), created=at)

    account.store.schedule(at, announce)


def _on_put(account: Account, obj: dict, is_new: bool) -> None:
    if not is_new or obj.get("object") != "balance_transaction":
        return
    at = obj["available_on"]
    if at <= account.store.now():
        return
    txn_id = obj["id"]

    def available() -> None:
        # The stored copy says what the clock says: pending until available_on.
        txn = account.get("balance_transaction", txn_id)
        if txn is not None and txn["status"] != "available":
            account.put({**txn, "status": "available"})

    account.store.schedule(at, available)
    if obj["net"] > 0:
        _announce_at(account, at)
