"""Generated balance transactions that are not a payment: failed refunds, Stripe's own fees and
balance corrections (https://docs.stripe.com/reports/balance-transaction-types,
https://docs.stripe.com/reports/reporting-categories).

* `refund_failure`: a refund the card network could not deliver (a closed card). The refund
  turns `failed` (`failure_reason`, `failure_balance_transaction`, event `refund.failed`) and an
  `adjustment` in reporting category `refund_failure` gives the amount back, two days after the
  refund. `REFUND_FAILURE_PERCENT` of refunds fail (generator.py).
* `stripe_fee`: Stripe's daily usage fees that belong to no payment (Radar for Fraud Teams
  screening, Billing usage), one a day, reporting category `fee`, source null.
* corrections: an `adjustment` in reporting category `other_adjustment` every
  `CORRECTION_EVERY_DAYS` days (Stripe corrects a balance this way, e.g. a fee recalculation).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from stripe_emulator import objects
from stripe_emulator.money import DAY, day_start
from stripe_emulator.streams import EventStream, GenStream

RADAR_FEE_PER_SCREEN = 2  # minor units per screened charge (Radar for Fraud Teams: $0.02)
CORRECTION_EVERY_DAYS = 15
FEE_HOUR = 12 * 3600  # Stripe bills the day's usage around midday UTC


def _mix(x: int) -> int:
    from stripe_emulator.generator import mix

    return mix(x)


def _date(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d")


def next_day(created: int) -> int:
    """Fees and corrections are available from 00:00 UTC the next day."""
    return day_start(created) + DAY


class RefundFailureBTStream(GenStream):
    object_type, prefix, kind, rank = "balance_transaction", "txn", "x", 6

    def created(self, i: int) -> int:
        from stripe_emulator.generator import REFUND_FAILURE_LAG

        return self.gen.refund_created(i) + REFUND_FAILURE_LAG

    def _fails(self, i: int) -> bool:
        return self.gen.refund_exists(i) and self.gen.refund_failed_at(i) is not None

    def exists(self, i: int) -> bool:
        return self._fails(i) and self.created(i) <= self.gen.clock()

    def render(self, i: int) -> dict:
        return self.gen.render_refund_bt(i, failure=True)

    def settle(self, i: int) -> tuple[int, int] | None:
        if not self._fails(i):
            return None
        bt = self.gen.render_refund_bt(i, failure=True)
        return bt["available_on"], bt["net"]

    def field(self, i: int, name: str) -> Any:
        if name == "type":
            return "adjustment"
        if name == "source":
            return self.gen.gen_id("re", "r", i)
        return self.render(i).get(name)


class RefundFailureEventStream(EventStream):
    kind, rank, slots = "x", 6, 1
    event_types = frozenset({"refund.failed"})

    def object_created(self, j: int) -> int:
        from stripe_emulator.generator import REFUND_FAILURE_LAG

        return self.gen.refund_created(j) + REFUND_FAILURE_LAG

    def event_type(self, i: int) -> str | None:
        gen = self.gen
        if not gen.refund_exists(i) or gen.refund_failed_at(i) is None:
            return None
        return "refund.failed" if self.object_created(i) <= gen.clock() else None

    def data(self, i: int) -> dict:
        return {
            "object": self.gen.render_refund(i),
            "previous_attributes": {
                "status": "succeeded",
                "failure_balance_transaction": None,
                "failure_reason": None,
            },
        }


class DailyStream(GenStream):
    """One object per generated day (index = day number from the first generated day)."""

    every = 1

    def __init__(self, gen: Any) -> None:
        super().__init__(gen, max(0, (gen.end - day_start(gen.start)) // DAY) // self.every)

    def day(self, i: int) -> int:
        return day_start(self.gen.start) + i * self.every * DAY

    def created(self, i: int) -> int:
        return self.day(i) + FEE_HOUR


class DailyBTStream(DailyStream):
    """A balance transaction a day (or every `every` days) that belongs to no payment."""

    object_type, prefix = "balance_transaction", "txn"
    bt_type = ""
    category = ""

    def amount(self, i: int) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def description(self, i: int) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def render(self, i: int) -> dict:
        created = self.created(i)
        available_on = next_day(created)
        return objects.balance_transaction(
            id=self.id(i),
            amount=self.amount(i),
            currency=self.gen.settle,
            created=created,
            available_on=available_on,
            source=None,
            type=self.bt_type,
            reporting_category=self.category,
            status="available" if available_on <= self.gen.clock() else "pending",
            description=self.description(i),
        )

    def settle(self, i: int) -> tuple[int, int] | None:
        return next_day(self.created(i)), self.amount(i)

    def field(self, i: int, name: str) -> Any:
        if name == "type":
            return self.bt_type
        if name == "source":
            return None
        return self.render(i).get(name)


class StripeFeeBTStream(DailyBTStream):
    kind, rank = "s", 7
    bt_type, category = "stripe_fee", "fee"

    def amount(self, i: int) -> int:
        gen = self.gen
        per_day = max(1, round(gen.n * DAY / gen.span))
        return -(RADAR_FEE_PER_SCREEN * per_day + _mix(gen.key ^ 0x5FEE ^ i) % 50)

    def description(self, i: int) -> str:
        product = "Radar for Fraud Teams" if i % 2 == 0 else "Billing - Usage Fee"
        return f"{product} ({_date(self.day(i))})"


class CorrectionBTStream(DailyBTStream):
    kind, rank = "a", 8
    bt_type, category = "adjustment", "other_adjustment"
    every = CORRECTION_EVERY_DAYS

    def amount(self, i: int) -> int:
        h = _mix(self.gen.key ^ 0xC022 ^ i)
        amount = 100 + h % 900
        return amount if (h >> 20) % 2 else -amount

    def description(self, i: int) -> str:
        return "Balance correction"
