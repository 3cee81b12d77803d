"""Connect application fees, as a platform sees them (https://docs.stripe.com/connect/direct-charges
#collect-fees, https://docs.stripe.com/reports/balance-transaction-types).

Each card charge of a connected account carries `application_fee_amount`
(generator.APPLICATION_FEE_PERCENT of the amount) and `application_fee`; the connected account's
balance transaction lists it in `fee_details` as type `application_fee`. On the platform, each
such fee is an `application_fee` object (`GET /v1/application_fees`) with a balance transaction
of type `application_fee`, reporting category `platform_earning`, in the platform's settlement
currency. One stream per connected account, kind = `KINDS[account number - 1]` (the first
`len(KINDS)` connected accounts carry fees).
"""

from __future__ import annotations

from typing import Any

from stripe_emulator import objects
from stripe_emulator.money import card_available_on, convert, exchange_rate
from stripe_emulator.streams import GenStream

KINDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def kind_for(number: int) -> str | None:
    return KINDS[number - 1] if 1 <= number <= len(KINDS) else None


class _FeeStream(GenStream):
    """Indexed like the connected account's charges; `gen` is the platform's generator."""

    def __init__(self, platform: Any, connected: Any) -> None:
        super().__init__(platform, connected.n)
        self.connected = connected
        self.kind = kind_for(connected.number) or "?"
        # Streams of one type need distinct ranks: ties in `created` are ordered by rank.
        self.rank = 100 + connected.number

    def created(self, i: int) -> int:
        return self.connected.charge_created(i)

    def exists(self, i: int) -> bool:
        return self.connected.payment(i).application_fee > 0

    def amounts(self, i: int) -> tuple[int, float | None]:
        """The fee in the platform's settlement currency, and the rate used."""
        pay = self.connected.payment(i)
        rate = exchange_rate(pay.currency, self.gen.settle)
        return convert(pay.application_fee, pay.currency, self.gen.settle, rate), rate


class ApplicationFeeStream(_FeeStream):
    object_type, prefix = "application_fee", "fee"

    def render(self, i: int) -> dict:
        pay = self.connected.payment(i)
        fee_id = self.id(i)
        return {
            "id": fee_id,
            "object": "application_fee",
            "account": self.connected.account_id,
            "amount": pay.application_fee,
            "amount_refunded": 0,
            "application": self.connected.application,
            "balance_transaction": self.gen.gen_id("txn", self.kind, i),
            "charge": self.connected.gen_id("ch", "c", i),
            "created": pay.created,
            "currency": pay.currency,
            "fee_source": {"charge": self.connected.gen_id("ch", "c", i), "type": "charge"},
            "livemode": False,
            "originating_transaction": None,
            "refunded": False,
            "refunds": objects.list_object(f"/v1/application_fees/{fee_id}/refunds", []),
        }

    def field(self, i: int, name: str) -> Any:
        if name == "charge":
            return self.connected.gen_id("ch", "c", i)
        return self.render(i).get(name)


class ApplicationFeeBTStream(_FeeStream):
    object_type, prefix = "balance_transaction", "txn"

    def render(self, i: int) -> dict:
        pay = self.connected.payment(i)
        amount, rate = self.amounts(i)
        available_on = card_available_on(pay.created)
        return objects.balance_transaction(
            id=self.id(i),
            amount=amount,
            currency=self.gen.settle,
            created=pay.created,
            available_on=available_on,
            source=self.gen.gen_id("fee", self.kind, i),
            type="application_fee",
            reporting_category="platform_earning",
            exchange_rate=rate,
            status="available" if available_on <= self.gen.clock() else "pending",
            description=f"Application fee from {self.connected.account_id}",
        )

    def settle(self, i: int) -> tuple[int, int] | None:
        if not self.exists(i):
            return None
        return card_available_on(self.connected.charge_created(i)), self.amounts(i)[0]

    def field(self, i: int, name: str) -> Any:
        if name == "type":
            return "application_fee"
        if name == "source":
            return self.gen.gen_id("fee", self.kind, i)
        return self.render(i).get(name)
