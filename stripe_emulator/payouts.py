"""Automatic payouts and the balance (https://docs.stripe.com/payouts,
https://docs.stripe.com/payouts/reconciliation, https://docs.stripe.com/payments/balances).

A generated account is on a daily automatic payout schedule. The payout of day D is created at
D + `PAYOUT_HOUR` and sends the funds that became available since the account's previous paid
payout: every balance transaction whose `available_on` is in (previous payout day, D], plus
what an earlier negative day carried. A day whose sum is not positive makes no payout and
carries on. Each payout has a balance transaction of type `payout` (-amount, reporting category
`payout`); it arrives `ARRIVAL_DAYS` later (`in_transit`, then `paid`). One payout in
`1 / FAILURE_EVERY`-ish fails at its arrival date: status `failed`, a `payout_failure` balance
transaction (+amount, reporting category `payout_reversal`) returns the funds, which the next
payout sends again. Events: `payout.created`, then `payout.paid` or `payout.failed`.

Payout reconciliation, as Stripe's API gives it: `GET /v1/balance_transactions?payout=po_...`
lists the balance transactions an automatic payout settled, its own `payout` one included; for a
paid payout the net of the others equals the payout's amount.

The schedule is computed once per account from each balance-transaction stream's `settle(i)`
(available_on, net) without rendering, a few seconds for a million charges, and only when a
payout or the balance is first asked for. Payouts cover the generated days up to `end`.

`GET /v1/balance`: per currency, `available` is the net of every balance transaction available
now (payouts included) and `pending` the net of those not available yet.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stripe_emulator import objects
from stripe_emulator.money import DAY, day_start
from stripe_emulator.streams import EventStream, GenStream

if TYPE_CHECKING:
    from stripe_emulator.store import Account, Stream

PAYOUT_HOUR = 6 * 3600
ARRIVAL_DAYS = 2
FAILURE_PERCENT = 4
# The longest time from a balance transaction's creation to its availability (SEPA: 7 days
# to the bank's answer, then the next day), so a payout's transactions are in a known window.
MAX_SETTLE_DAYS = 9
FAILURE_CODE = "account_closed"
FAILURE_MESSAGE = "The bank account has been closed."


@dataclass(frozen=True)
class Payout:
    day: int  # index k: the payout of day start + k days
    created: int
    amount: int
    since: int  # settles available_on in (since, until]
    until: int
    failed: bool


class Schedule:
    """The generated payouts of one account (a few dozen records, built on first use)."""

    def __init__(self, gen: Any) -> None:
        self.gen = gen
        self.first_day = day_start(gen.start) + DAY
        self.n_days = max(0, (gen.end - self.first_day) // DAY + 1)
        self._payouts: dict[int, Payout] | None = None
        self._sums: dict[int, int] | None = None
        self._lock = threading.RLock()
        self.streams: list[Stream] = []  # the account's non-payout BT streams (set by wiring)

    def day_sums(self) -> dict[int, int]:
        """Net per `available_on` day of every generated non-payout balance transaction
        (whether or not it exists yet: that depends on the clock, the sums do not)."""
        with self._lock:
            if self._sums is None:
                self._sums = self._day_sums()
            return self._sums

    def _day_sums(self) -> dict[int, int]:
        sums: dict[int, int] = {}
        for stream in self.streams:
            settle = stream.settle  # type: ignore[attr-defined]
            for i in range(len(stream)):
                found = settle(i)
                if found is not None:
                    day, net = found
                    sums[day] = sums.get(day, 0) + net
        return sums

    @property
    def payouts(self) -> dict[int, Payout]:
        with self._lock:
            if self._payouts is None:
                self._payouts = self._build()
            return self._payouts

    def _build(self) -> dict[int, Payout]:
        sums = self.day_sums()
        out: dict[int, Payout] = {}
        carry = 0
        since = min(sums, default=self.first_day) - DAY
        credits: dict[int, int] = {}  # available_on day -> returned amount of failed payouts
        for k in range(self.n_days):
            day = self.first_day + k * DAY
            first = since + DAY
            # funds that became available since the last paid payout (inclusive of day)
            while first <= day:
                carry += sums.get(first, 0) + credits.pop(first, 0)
                first += DAY
            since = day
            if carry <= 0:
                continue
            failed = self._fails(k)
            out[k] = Payout(k, day + PAYOUT_HOUR, carry, day - DAY if not out else 0, day, failed)
            if failed:
                credits[self.failure_credit_day(k)] = carry
            carry = 0
        # `since` of each payout: the day of the previous payout that existed
        fixed: dict[int, Payout] = {}
        prev = min(sums, default=self.first_day) - DAY
        for k in sorted(out):
            p = out[k]
            fixed[k] = Payout(p.day, p.created, p.amount, prev, p.until, p.failed)
            prev = p.until
        return fixed

    def _fails(self, k: int) -> bool:
        from stripe_emulator.generator import mix

        return mix(self.gen.key ^ 0xF00D ^ k) % 100 < FAILURE_PERCENT

    def created(self, k: int) -> int:
        return self.first_day + k * DAY + PAYOUT_HOUR

    def arrival(self, k: int) -> int:
        return self.first_day + (k + ARRIVAL_DAYS) * DAY

    def failure_credit_day(self, k: int) -> int:
        """A failed payout's funds are available again the day after its arrival date."""
        return self.arrival(k) + DAY

    def payout(self, k: int) -> Payout | None:
        return self.payouts.get(k)

    def last_until(self) -> int:
        """Where the next payout's window starts: the last generated payout's day."""
        paid = [p.until for p in self.payouts.values()]
        return max(paid) if paid else min(self.day_sums(), default=self.first_day) - DAY


# -- rendering -------------------------------------------------------------------------------


TRACE_SUPPORTED = {"status": "supported", "value": None}
TRACE_PENDING = {"status": "pending", "value": None}


def destination(gen: Any) -> str:
    return "ba_" + gen.tag + "BANK0001"


def payout_object(
    id: str,
    amount: int,
    currency: str,
    created: int,
    arrival_date: int,
    balance_transaction: str,
    status: str,
    destination: str,
    failure_balance_transaction: str | None = None,
) -> dict:
    """An automatic payout to the account's bank account (failure fields when `failed`)."""
    failed = status == "failed"
    return {
        "id": id,
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": arrival_date,
        "automatic": True,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": destination,
        "failure_balance_transaction": failure_balance_transaction if failed else None,
        "failure_code": FAILURE_CODE if failed else None,
        "failure_message": FAILURE_MESSAGE if failed else None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "payout_method": None,
        "reconciliation_status": "completed",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": status,
        "trace_id": TRACE_SUPPORTED if status == "paid" else TRACE_PENDING,
        "type": "bank_account",
    }


def render_payout(gen: Any, k: int) -> dict:
    sched: Schedule = gen.schedule
    p = sched.payouts[k]
    now = gen.clock()
    arrival = sched.arrival(k)
    if p.failed and arrival <= now:
        status = "failed"
    elif arrival <= now:
        status = "paid"
    else:
        status = "in_transit"
    return payout_object(
        id=gen.gen_id("po", "o", k),
        amount=p.amount,
        currency=gen.settle,
        created=p.created,
        arrival_date=arrival,
        balance_transaction=gen.gen_id("txn", "o", k),
        status=status,
        destination=destination(gen),
        failure_balance_transaction=gen.gen_id("txn", "f", k),
    )


def render_payout_bt(gen: Any, k: int, failure: bool = False) -> dict:
    sched: Schedule = gen.schedule
    p = sched.payouts[k]
    if failure:
        created = sched.arrival(k)
        available_on = sched.failure_credit_day(k)
        return objects.balance_transaction(
            id=gen.gen_id("txn", "f", k),
            amount=p.amount,
            currency=gen.settle,
            created=created,
            available_on=available_on,
            source=gen.gen_id("po", "o", k),
            type="payout_failure",
            reporting_category="payout_reversal",
            status="available" if available_on <= gen.clock() else "pending",
            description="Payout failure (" + FAILURE_CODE + ")",
        )
    return objects.balance_transaction(
        id=gen.gen_id("txn", "o", k),
        amount=-p.amount,
        currency=gen.settle,
        created=p.created,
        available_on=p.created,
        source=gen.gen_id("po", "o", k),
        type="payout",
        reporting_category="payout",
        status="available",
        description="STRIPE PAYOUT",
    )


# -- streams ---------------------------------------------------------------------------------


class _DayStream(GenStream):
    def __init__(self, gen: Any) -> None:
        super().__init__(gen, gen.schedule.n_days)

    def created(self, i: int) -> int:
        return self.gen.schedule.created(i)

    def exists(self, i: int) -> bool:
        return self.created(i) <= self.gen.clock() and self.gen.schedule.payout(i) is not None


class PayoutStream(_DayStream):
    object_type, prefix, kind, rank = "payout", "po", "o", 0

    def render(self, i: int) -> dict:
        return render_payout(self.gen, i)


class PayoutBTStream(_DayStream):
    object_type, prefix, kind, rank = "balance_transaction", "txn", "o", 10

    def render(self, i: int) -> dict:
        return render_payout_bt(self.gen, i)

    def field(self, i: int, name: str) -> Any:
        if name == "type":
            return "payout"
        if name == "source":
            return self.gen.gen_id("po", "o", i)
        return self.render(i).get(name)


class PayoutFailureBTStream(_DayStream):
    object_type, prefix, kind, rank = "balance_transaction", "txn", "f", 11

    def created(self, i: int) -> int:
        return self.gen.schedule.arrival(i)

    def exists(self, i: int) -> bool:
        p = self.gen.schedule.payout(i) if self.created(i) <= self.gen.clock() else None
        return p is not None and p.failed

    def render(self, i: int) -> dict:
        return render_payout_bt(self.gen, i, failure=True)

    def settle(self, i: int) -> tuple[int, int] | None:
        p = self.gen.schedule.payout(i)
        if p is None or not p.failed:
            return None
        return self.gen.schedule.failure_credit_day(i), p.amount

    def field(self, i: int, name: str) -> Any:
        if name == "type":
            return "payout_failure"
        if name == "source":
            return self.gen.gen_id("po", "o", i)
        return self.render(i).get(name)


class PayoutCreatedEventStream(EventStream):
    kind, rank, slots = "o", 10, 1
    event_types = frozenset({"payout.created"})

    def __init__(self, gen: Any, store: Any) -> None:
        super().__init__(gen, gen.schedule.n_days, store)

    def object_created(self, j: int) -> int:
        return self.gen.schedule.created(j)

    def event_type(self, i: int) -> str | None:
        sched = self.gen.schedule
        if sched.created(i) > self.gen.clock() or sched.payout(i) is None:
            return None
        return "payout.created"

    def data(self, i: int) -> dict:
        return {"object": {**render_payout(self.gen, i), "status": "pending"}}


class PayoutOutcomeEventStream(PayoutCreatedEventStream):
    kind, rank = "f", 11
    event_types = frozenset({"payout.paid", "payout.failed"})

    def object_created(self, j: int) -> int:
        return self.gen.schedule.arrival(j)

    def event_type(self, i: int) -> str | None:
        sched = self.gen.schedule
        p = sched.payout(i) if sched.arrival(i) <= self.gen.clock() else None
        if p is None:
            return None
        return "payout.failed" if p.failed else "payout.paid"

    def data(self, i: int) -> dict:
        return {
            "object": render_payout(self.gen, i),
            "previous_attributes": {"status": "in_transit"},
        }


# -- queries ---------------------------------------------------------------------------------


def settled_by(account: Account, payout_id: str) -> tuple[int, int, Any] | None:
    """(created_lo, created_hi, predicate) selecting the balance transactions a generated
    payout settled, for the list engine; None if `payout_id` names no generated payout."""
    gen = account.generator
    window = account.payout_windows.get(payout_id)
    if window is not None:  # a payout made as the clock moved on (live_money.py)
        since, until = window
        own = None
    else:
        found = account.decode(payout_id)
        if gen is None or found is None or found[0].object_type != "payout":
            return None
        stream, own = found
        if not stream.exists(own):
            return None
        p: Payout = gen.schedule.payouts[own]
        since, until = p.since, p.until

    def predicate(s: Stream, i: int, overlaid: dict | None) -> bool:
        if overlaid is not None:
            if overlaid["type"] == "payout":
                return overlaid["source"] == payout_id
            return since < overlaid["available_on"] <= until
        if s is None:
            return False
        if isinstance(s, PayoutBTStream):
            return i == own
        settle = getattr(s, "settle", None)
        if settle is None:
            return False
        got = settle(i)
        return got is not None and since < got[0] <= until

    return since - MAX_SETTLE_DAYS * DAY, until + PAYOUT_HOUR, predicate


def balance(account: Account, at: int | None = None) -> dict:
    """`GET /v1/balance` (as of `at`, default now): per currency, `available` is the net of
    every balance transaction available by then (payouts included), `pending` of those that
    exist but are not available yet."""
    now = account.store.now() if at is None else at
    available: dict[str, int] = {}
    pending: dict[str, int] = {}
    gen = account.generator
    if gen is not None:
        cur = gen.settle
        sched: Schedule = gen.schedule
        available[cur] = sum(net for day, net in sched.day_sums().items() if day <= now)
        # Some of the sums' transactions do not exist yet (created after now): count pending
        # ones from the recent window only.
        pending[cur] = 0
        for stream in sched.streams:
            lo, hi = stream.index_range(now - MAX_SETTLE_DAYS * DAY, now)
            for i in range(lo, hi):
                got = stream.settle(i)  # type: ignore[attr-defined]
                # `settle` is None for objects that never exist; the others exist from their
                # `created` on, and index_range stopped at `now`.
                if got is not None and got[0] > now:
                    pending[cur] += got[1]
        for k, p in sched.payouts.items():
            if p.created <= now:
                available[cur] -= p.amount
            if p.failed and sched.arrival(k) <= now:
                target = available if sched.failure_credit_day(k) <= now else pending
                target[cur] += p.amount
    new = account._new.get("balance_transaction")
    if new is not None:
        for i in range(len(new)):
            bt = new.render(i)
            if bt["created"] > now:
                continue
            target = available if bt["available_on"] <= now else pending
            target[bt["currency"]] = target.get(bt["currency"], 0) + bt["net"]
    currencies = sorted(set(available) | set(pending))
    return {
        "object": "balance",
        "available": [_amount(available.get(c, 0), c) for c in currencies],
        "connect_reserved": [_amount(0, c) for c in currencies],
        "livemode": False,
        "pending": [_amount(pending.get(c, 0), c) for c in currencies],
        "refund_and_dispute_prefunding": None,
    }


def _amount(amount: int, currency: str) -> dict:
    return {"amount": amount, "currency": currency, "source_types": {"card": amount}}
