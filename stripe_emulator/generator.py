"""Deterministic generated data: every object is a pure function of (seed, account, index).

Nothing is materialized per payment: an account of a million charges costs a few kilobytes.
Each generated type is a `store.Stream` whose `created` is monotonic in its index, so the
store binary-searches `created` filters and cursors and renders only the page it returns.

Per account (number 0 is the platform, 1..N its connected accounts, then unconnected ones):

* a small catalog (`catalog(seed, account)`): 7 products (one deleted), 12 prices, one-off and recurring, in
  the account's currency and in others (EUR, GBP, and JPY, the zero-decimal one), one archived
  product, archived prices, a product and prices without host-app ids;
* customers (n_charges / 20, at least 3, at most 2,000);
* `charges` payments over `days` days ending at `end`: payment intent `i`, charge `i`,
  payment method `i`; about 6 % declined (no balance transaction); a charge in a currency
  other than the account's settlement currency settles with an `exchange_rate`;
* bank debits (bank_debits.py): in USD and EUR accounts, 20 % of the payments of one-off prices
  in the account's currency are ACH (`us_bank_account`) or SEPA (`sepa_debit`) debits, pending
  for 4 or 7 days; 8 % of them are returned (`payment_failure_refund`);
* Connect (connect_fees.py): card charges of connected accounts carry a 3 % application fee;
  the platform has the `application_fee` objects and balance transactions;
* refunds: one charge in ten (60 % full, 40 % half), about eight days after its charge, with its
  own negative balance transaction (`payment_refund` for a bank debit); 4 % of refunds fail two
  days later (adjustments.py: `refund_failure`);
* disputes: one card charge in forty of those not refunded: a balance transaction of -amount and
  a 15.00 (or 2000 JPY) fee when opened; ten days later lost, or won with a `dispute_reversal`
  balance transaction giving the amount and the fee back (as the API's `winning_evidence`
  does); disputes younger than ten days are still open;
* Stripe's daily usage fees (`stripe_fee`) and a balance correction every 15 days
  (adjustments.py); daily automatic payouts of the available balance, 4 % failing (payouts.py);
* invoices for payments of recurring prices, each line with `pricing.price_details`: one line,
  or, for one invoice in five, 12 period lines (Stripe embeds the first 10 in `lines`, with
  `has_more`; the rest page from `/v1/invoices/{id}/lines`); each with one invoice payment
  (invoice_payments.py);
* the events all of it produced; the API lists only those of the last 30 days.

Host-app ids (what the demo's host-app database holds), for account number `n`:
`app_project_id = "project-{n}"`, product `p` (0-5): `app_product_id = "product-{n}-{p}"`,
its price `k`: `app_price_id = "price-{n}-{p}-{k}"` and one SKU per price
`app_sku_id = "sku-{n}-{p}-{k}"`. Product 5 ("Gift card") and archived price 0-2 have no app id,
on purpose (the marts must report them as unmapped); product 6 ("Discontinued sample") has an
app id but was deleted in Stripe (retrieve: `{"id", "object": "product", "deleted": true}`;
events `product.created` and `product.deleted`). 60 % of the payments of mapped prices carry
`metadata = {app_project_id, app_price_id, app_sku_id}`; the rest carry none.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from stripe_emulator import (
    adjustments,
    bank_debits,
    connect_fees,
    invoice_payments,
    live_money,
    objects,
    payouts,
)
from stripe_emulator.money import DISPUTE_FEE, card_fee, convert, exchange_rate
from stripe_emulator.store import Account, Stream
from stripe_emulator.streams import EventStream, GenStream

if TYPE_CHECKING:
    from stripe_emulator.store import Store

DAY = 86_400
MASK = (1 << 64) - 1
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PAIRS = [a + b for a in _B62 for b in _B62]  # 3844 two-digit chunks
_PAIR_INDEX = {pair: n for n, pair in enumerate(_PAIRS)}

SETTLEMENT_CURRENCIES = ["usd", "eur", "gbp", "usd"]
FAILURE_PERCENT = 6
REFUND_STRIDE = 10
DISPUTE_STRIDE = 40
REFUND_LAG = 8 * DAY  # a week or so later, after a bank debit has cleared
REFUND_FAILURE_PERCENT = 4
REFUND_FAILURE_LAG = 2 * DAY
DISPUTE_LAG = 2 * DAY
DISPUTE_DECISION = 10 * DAY
AVAILABLE_AFTER = 2 * DAY
METADATA_PERCENT = 60
DECLINE_MESSAGE = objects.DECLINE_MESSAGE
# Connect: the platform's fee on each card charge of a connected account (direct charges with
# `application_fee_amount`), percent of the charge amount.
APPLICATION_FEE_PERCENT = 3
MULTI_LINE_EVERY = 5  # invoices (by payment index) billed in many lines
MULTI_LINE_COUNT = 12
CUSTOMER_PERCENT = 70

CARDS = [
    # brand, funding, country, last4, fingerprint
    ("visa", "credit", "US", "4242", "Xt5EWLLDS7FJjR1c"),
    ("visa", "debit", "US", "5556", "kQ3yTb9wRj2Lm0Pa"),
    ("mastercard", "credit", "US", "4444", "Ab8cQ1rT6yUe3WsZ"),
    ("mastercard", "prepaid", "GB", "5100", "Pq7sLm2Nx4Vb9KcD"),
    ("amex", "credit", "US", "8431", "Zx1cVb2Nm3As4Df5"),
    ("visa", "credit", "DE", "3184", "Gh6jKl7Qw8Er9Ty0"),
    ("visa", "credit", "JP", "0003", "Ui1oP2aS3dF4gH5j"),
    ("mastercard", "debit", "FR", "8210", "Lk9jH8gF7dS6aQ5w"),
]
FIRST_NAMES = [
    "Jenny",
    "Akira",
    "Chloe",
    "Marek",
    "Priya",
    "Tomas",
    "Amara",
    "Lena",
    "Omar",
    "Yuki",
]
LAST_NAMES = ["Rosen", "Tanaka", "Martin", "Novak", "Shah", "Garcia", "Okafor", "Weber", "Haddad"]
BUSINESS_NAMES = ["Emulator Platform", "Northwind Studio", "Blue Fern Books", "Kumo Labs"]


def mix(x: int) -> int:
    """splitmix64: a fast, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def _b62(n: int, width: int) -> str:
    if width == 6:
        return _PAIRS[(n // 14_776_336) % 3844] + _PAIRS[(n // 3844) % 3844] + _PAIRS[n % 3844]
    out = ""
    for _ in range(width // 2):
        n, r = divmod(n, 3844)
        out = _PAIRS[r] + out
    return out


def account_id(seed: int, number: int) -> str:
    """The generated id of account `number` (0: the platform)."""
    h = mix(mix(seed * 7919 + number) ^ 0xACC7)
    h2 = mix(h)
    return "acct_1" + (_b62(h, 8) + _b62(h2, 8))[:15]


def default_end(now: int | None = None) -> int:
    """Today 00:00 UTC: generated data is stable for a day and ends before `now`."""
    now = int(dt.datetime.now(dt.UTC).timestamp()) if now is None else now
    return now - now % DAY


# -- catalog ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogPrice:
    id: str
    product_id: str
    index: int  # k within the product
    currency: str
    unit_amount: int
    interval: str | None  # "month" / "year" for recurring prices
    active: bool
    app_price_id: str | None
    app_sku_id: str | None
    nickname: str
    lookup_key: str | None = None  # set on the active recurring prices, as apps often do


@dataclass(frozen=True)
class CatalogProduct:
    id: str
    index: int
    name: str
    active: bool
    app_product_id: str | None
    prices: tuple[CatalogPrice, ...]
    description: str
    deleted: bool = False  # deleted in Stripe a day after it was created


@dataclass(frozen=True)
class Catalog:
    """The generated products and prices of one account and their host-app ids."""

    seed: int
    account_number: int
    account_id: str
    app_project_id: str
    currency: str
    products: tuple[CatalogProduct, ...]

    @property
    def prices(self) -> tuple[CatalogPrice, ...]:
        return tuple(p for product in self.products for p in product.prices)


DELETED_PRODUCT = 6

# product index -> (name, description, active, has app id, prices: (currency, base, interval, active))
_CATALOG_SPEC: list[tuple[str, str, bool, bool, list[tuple[str, int, str | None, bool]]]] = [
    (
        "Starter plan",
        "Everything to get going.",
        True,
        True,
        [("S", 1500, None, True), ("S", 900, "month", True), ("S", 1200, None, False)],
    ),
    (
        "Pro plan",
        "For growing teams.",
        True,
        True,
        [("S", 4900, "month", True), ("S", 49000, "year", True), ("X", 4500, None, True)],
    ),
    (
        "Team seats",
        "Per-seat licence.",
        True,
        True,
        [("S", 2000, "month", True), ("gbp", 1800, None, True)],
    ),
    (
        "Tokyo workshop",
        "One-day workshop in Tokyo.",
        True,
        True,
        [("jpy", 9800, None, True), ("jpy", 3000, None, True)],
    ),
    ("Legacy add-on", "No longer sold.", False, True, [("S", 500, None, False)]),
    (
        "Gift card",
        "Created in the Dashboard, not in the app.",
        True,
        False,
        [("S", 2500, None, True)],
    ),
    ("Discontinued sample", "Deleted in Stripe; the app still has it.", False, True, []),
]


def settlement_currency(number: int) -> str:
    return SETTLEMENT_CURRENCIES[number % len(SETTLEMENT_CURRENCIES)]


def _account_key(seed: int, number: int) -> int:
    return mix(seed * 1_000_003 + number)


_B62_6 = 62**6
_ID_MULTIPLIER = 0x2E1F5A3B9D  # odd, large: consecutive indices get unrelated-looking suffixes


def _id_salt(seed: int, number: int) -> int:
    return mix(_account_key(seed, number) ^ 0x1D5) % _B62_6


def _gen_id(prefix: str, kind: str, index: int, tag: str, salt: int) -> str:
    """A generated id: prefix, "_3", kind, 6 index chars, the account tag, 6 hash chars.

    The suffix is a cheap multiplicative hash (ids are rendered by the hundred per page)."""
    return (
        f"{prefix}_3{kind}{_b62(index, 6)}{tag}{_b62((index * _ID_MULTIPLIER + salt) % _B62_6, 6)}"
    )


def catalog(seed: int, account: int) -> Catalog:
    """The products and prices generated for account number `account` (0: the platform)."""
    acct = account_id(seed, account)
    tag = acct[-10:]
    settle = settlement_currency(account)
    other = "eur" if settle != "eur" else "usd"
    products = []
    price_index = 0
    for p, (name, description, active, mapped, price_specs) in enumerate(_CATALOG_SPEC):
        product_id = _gen_id("prod", "k", p, tag, _id_salt(seed, account))
        prices = []
        for k, (cur, base, interval, price_active) in enumerate(price_specs):
            currency = settle if cur == "S" else other if cur == "X" else cur
            bump = mix(seed * 31 + account * 7 + price_index) % 5
            unit_amount = base + bump * 100
            price_mapped = mapped and not (p == 0 and k == 2)
            prices.append(
                CatalogPrice(
                    id=_gen_id("price", "k", price_index, tag, _id_salt(seed, account)),
                    product_id=product_id,
                    index=k,
                    currency=currency,
                    unit_amount=unit_amount,
                    interval=interval,
                    active=price_active and active,
                    app_price_id=f"price-{account}-{p}-{k}" if price_mapped else None,
                    app_sku_id=f"sku-{account}-{p}-{k}" if price_mapped else None,
                    nickname=f"{name} {interval + 'ly' if interval else 'one-off'} {currency.upper()}",
                    lookup_key=(
                        f"{name.lower().replace(' ', '_')}_{interval}ly"
                        if interval and price_active and active
                        else None
                    ),
                )
            )
            price_index += 1
        products.append(
            CatalogProduct(
                id=product_id,
                index=p,
                name=name,
                active=active,
                app_product_id=f"product-{account}-{p}" if mapped else None,
                prices=tuple(prices),
                description=description,
                deleted=p == DELETED_PRODUCT,
            )
        )
    return Catalog(seed, account, acct, f"project-{account}", settle, tuple(products))


# -- per-payment parameters -----------------------------------------------------------------


# Not frozen: a frozen dataclass sets each field through object.__setattr__, and a payment is
# built for every charge a page renders. Treat it as immutable (it is cached).
@dataclass(slots=True)
class Payment:
    index: int
    created: int
    succeeded: bool
    price: CatalogPrice
    quantity: int
    amount: int
    currency: str
    customer: int | None
    card: int
    metadata: dict
    # settlement
    settle_amount: int
    exchange_rate: float | None
    fee: int  # Stripe's fee, in the settlement currency
    # "card", or a bank debit ("us_bank_account", "sepa_debit": see bank_debits.py)
    method: str = "card"
    bank_failed: bool = False
    failure_code: str | None = None
    # Connect: the platform's application fee, in the charge's and the settlement currency
    application_fee: int = 0
    application_fee_settled: int = 0


class AccountGenerator:
    """Everything generated for one account; streams render objects on demand."""

    def __init__(
        self,
        seed: int,
        number: int,
        n_charges: int,
        start: int,
        end: int,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.seed = seed
        self.number = number
        self.n = n_charges
        self.start = start
        self.end = end
        # What changes with time alone, as in Stripe (a balance transaction becoming available,
        # a dispute being decided), follows this clock; everything else is fixed by `end`.
        self.clock = clock or (lambda: end)
        self.span = max(1, end - start)
        self.catalog = catalog(seed, number)
        self.account_id = self.catalog.account_id
        self.tag = self.account_id[-10:]
        self.settle = self.catalog.currency
        self.key = _account_key(seed, number)
        self.bank_method = bank_debits.METHOD_FOR_CURRENCY.get(self.settle)
        # Connect: set by `populate` for connected accounts (the platform's client id, and the
        # platform's generator, which holds the application fee objects).
        self.application: str | None = None
        self.platform: AccountGenerator | None = None
        self.connected: list[AccountGenerator] = []  # on the platform: accounts paying it fees
        self.schedule = payouts.Schedule(self)
        self.connected_account = number != 0
        self.catalog_created = start - DAY
        self.n_customers = max(3, min(2000, n_charges // 20))
        self.customers_created = start - DAY // 2
        self.sellable = [p for p in self.catalog.prices if p.active]
        # refunds and disputes: slot r covers charges [r*S, r*S+S); created at the charge
        # index `r*S + S - 1 + lag`, which keeps `created` monotonic in r and after its charge.
        per_charge = self.span / max(1, n_charges)
        self.refund_lag = max(1, math.ceil(REFUND_LAG / per_charge))
        self.dispute_lag = max(1, math.ceil(DISPUTE_LAG / per_charge))
        self.n_refunds = max(0, (n_charges - REFUND_STRIDE - self.refund_lag) // REFUND_STRIDE + 1)
        self.n_disputes = max(
            0, (n_charges - DISPUTE_STRIDE - self.dispute_lag) // DISPUTE_STRIDE + 1
        )
        self._salt = _id_salt(seed, number)
        # Related objects share an id body, as Stripe's pi_3Abc... and ch_3Abc... do; the body
        # of index i is computed once for the page that renders its charge, intent and BT.
        self._core = lru_cache(maxsize=4096)(self._make_core)
        self._precompute_payments()  # again by `collect_application_fees`
        self.payment = lru_cache(maxsize=8192)(self._payment)
        self._card_details = [
            objects.card_details(
                brand=b,
                funding=f,
                country=c,
                last4=last4,
                fingerprint=fp,
                exp_month=1 + n % 12,
                exp_year=2027 + n % 5,
            )
            for n, (b, f, c, last4, fp) in enumerate(CARDS)
        ]
        self._customer_ids = [
            self.gen_id("cus", "u", c) for c in range(min(self.n_customers, 2000))
        ]
        self._billing = [self._billing_for(c) for c in range(min(self.n_customers, 2000))]
        self._guest_billing = [
            objects.billing_details(name=None, email=None, country=c[2]) for c in CARDS
        ]

    # -- ids -------------------------------------------------------------------------------
    def _make_core(self, index: int) -> str:
        p = _PAIRS
        h = (index * _ID_MULTIPLIER + self._salt) % _B62_6
        return (
            f"{p[(index // 14_776_336) % 3844]}{p[(index // 3844) % 3844]}{p[index % 3844]}"
            f"{self.tag}{p[h // 14_776_336]}{p[(h // 3844) % 3844]}{p[h % 3844]}"
        )

    def gen_id(self, prefix: str, kind: str, index: int) -> str:
        return f"{prefix}_3{kind}{self._core(index)}"

    def charge_created(self, i: int) -> int:
        # Evenly spread, plus a jitter smaller than the spacing: irregular like real traffic,
        # and still strictly increasing in i (the lists' binary searches rely on it).
        base = self.start + (i * self.span) // self._n1
        return base + (i * 0x9E3779B1 ^ self.key) % self._gap if self._gap > 1 else base

    # -- payments --------------------------------------------------------------------------
    def _payment(self, i: int) -> Payment:
        h = mix(self.key ^ (i * 0x2545F4914F6CDD1D))
        k = h % len(self.sellable)
        price = self.sellable[k]
        quantity = 1 + (h >> 8) % 3 if price.interval is None and price.currency != "jpy" else 1
        customer = None
        if price.interval is not None or (h >> 16) % 100 < CUSTOMER_PERCENT:
            customer = (h >> 24) % self.n_customers
        settle_amount, rate, fee, bank_fee, app_fee, app_fee_settled = self._settlement[k][quantity]
        succeeded = (h >> 40) % 100 >= FAILURE_PERCENT
        method, bank_failed, failure_code = "card", False, None
        if succeeded and self._bank_eligible[k]:
            h2 = mix(h ^ 0xBA4C)
            if h2 % 100 < bank_debits.BANK_DEBIT_PERCENT:
                method, fee = self.bank_method, bank_fee  # type: ignore[assignment]
                bank_failed = (h2 >> 8) % 100 < bank_debits.BANK_FAILURE_PERCENT
                if bank_failed:
                    codes = bank_debits.FAILURE_CODES
                    failure_code = codes[(h2 >> 16) % len(codes)]
        if app_fee and (method != "card" or not succeeded):
            app_fee = app_fee_settled = 0
        # positional: the order of Payment's fields (a page builds a hundred of these)
        return Payment(
            i,
            self.charge_created(i),
            succeeded,
            price,
            quantity,
            price.unit_amount * quantity,
            price.currency,
            customer,
            (h >> 48) % len(CARDS),
            self._metadata[k] if (h >> 32) % 100 < METADATA_PERCENT else {},
            settle_amount,
            rate,
            fee,
            method,
            bank_failed,
            failure_code,
            app_fee,
            app_fee_settled,
        )

    def _precompute_payments(self) -> None:
        """Per sellable price: the payment metadata and, per quantity, the settlement."""
        self._n1 = max(1, self.n)
        self._gap = self.span // self._n1
        self._metadata: list[dict] = []
        self._settlement: list[dict[int, tuple[int, float | None, int, int, int, int]]] = []
        # Bank debits pay one-off prices in the account's own currency (bank_debits.py).
        self._bank_eligible = [
            self.bank_method is not None and p.interval is None and p.currency == self.settle
            for p in self.sellable
        ]
        for price in self.sellable:
            self._metadata.append(
                {
                    "app_price_id": price.app_price_id,
                    "app_project_id": self.catalog.app_project_id,
                    "app_sku_id": price.app_sku_id,
                }
                if price.app_price_id is not None
                else {}
            )
            table = {}
            for quantity in (1, 2, 3):
                amount = price.unit_amount * quantity
                rate = exchange_rate(price.currency, self.settle)
                settle_amount = convert(amount, price.currency, self.settle, rate)
                fee = card_fee(settle_amount, self.settle, rate is not None)
                bank_fee = bank_debits.fee(self.bank_method, amount) if self.bank_method else 0
                app_fee = round(amount * APPLICATION_FEE_PERCENT / 100) if self.application else 0
                app_fee_settled = convert(app_fee, price.currency, self.settle, rate)
                table[quantity] = (settle_amount, rate, fee, bank_fee, app_fee, app_fee_settled)
            self._settlement.append(table)

    def has_invoice(self, pay: Payment) -> bool:
        return pay.price.interval is not None and pay.customer is not None

    def refund_index(self, i: int) -> int | None:
        """The refund of charge i, if it has one."""
        r = i // REFUND_STRIDE
        if r >= self.n_refunds or self.refund_charge(r) != i:
            return None
        return r if self._refundable(r, self.payment(i)) else None

    def refund_charge(self, r: int) -> int:
        return r * REFUND_STRIDE + mix(self.key ^ 0x5EF ^ r) % REFUND_STRIDE

    def refund_created(self, r: int) -> int:
        return self.charge_created(r * REFUND_STRIDE + REFUND_STRIDE - 1 + self.refund_lag)

    def refund_exists(self, r: int) -> bool:
        return self._refundable(r, self.payment(self.refund_charge(r)))

    def _refundable(self, r: int, pay: Payment) -> bool:
        if not pay.succeeded or pay.bank_failed:
            return False
        # A bank debit is refundable once the bank has confirmed it.
        return pay.method == "card" or (
            bank_debits.decision_at(pay.created, pay.method) <= self.refund_created(r)
        )

    def refund_failed_at(self, r: int) -> int | None:
        """When refund r failed (the card was closed), if it fails; Stripe reports a failed
        refund days later and credits the amount back with a `refund_failure` adjustment."""
        if mix(self.key ^ 0xFA11 ^ r) % 100 >= REFUND_FAILURE_PERCENT:
            return None
        return self.refund_created(r) + REFUND_FAILURE_LAG

    def refund_amount(self, r: int) -> int:
        pay = self.payment(self.refund_charge(r))
        if mix(self.key ^ 0xF011 ^ r) % 100 < 60:
            return pay.amount
        return pay.amount // 2

    def dispute_charge(self, d: int) -> int:
        return d * DISPUTE_STRIDE + mix(self.key ^ 0xD15 ^ d) % DISPUTE_STRIDE

    def dispute_exists(self, d: int) -> bool:
        i = self.dispute_charge(d)
        pay = self.payment(i)
        return pay.succeeded and pay.method == "card" and self.refund_index(i) is None

    def dispute_index(self, i: int) -> int | None:
        d = i // DISPUTE_STRIDE
        if d >= self.n_disputes or self.dispute_charge(d) != i or not self.dispute_exists(d):
            return None
        return d

    def dispute_created(self, d: int) -> int:
        return self.charge_created(d * DISPUTE_STRIDE + DISPUTE_STRIDE - 1 + self.dispute_lag)

    def dispute_closed_at(self, d: int) -> int | None:
        closed = self.dispute_created(d) + DISPUTE_DECISION
        return closed if closed <= self.clock() else None

    def dispute_won(self, d: int) -> bool:
        return mix(self.key ^ 0x3017 ^ d) % 2 == 0

    # -- renderers -------------------------------------------------------------------------
    def _billing_for(self, c: int) -> dict:
        first = FIRST_NAMES[c % len(FIRST_NAMES)]
        last = LAST_NAMES[(c // len(FIRST_NAMES)) % len(LAST_NAMES)]
        return objects.billing_details(
            name=f"{first} {last}", email=f"{first}.{last}{c}@example.com".lower(), country="US"
        )

    def customer_id(self, c: int) -> str:
        ids = self._customer_ids
        if c < len(ids):
            return ids[c]
        return self.gen_id("cus", "u", c)

    def render_customer(self, c: int) -> dict:
        billing = self._billing[c] if c < len(self._billing) else self._billing_for(c)
        return objects.customer(
            id=self.customer_id(c),
            created=self.customers_created + c,
            email=billing["email"],
            name=billing["name"],
            invoice_prefix=_b62(mix(self.key ^ c), 8)[:8].upper(),
            currency=self.settle,
            metadata={"app_project_id": self.catalog.app_project_id} if c % 3 == 0 else {},
        )

    def product_deleted_at(self, p: int) -> int | None:
        return self.catalog_created + DAY if self.catalog.products[p].deleted else None

    def render_product(self, p: int, as_of: int | None = None) -> dict:
        prod = self.catalog.products[p]
        deleted_at = self.product_deleted_at(p)
        if deleted_at is not None and (as_of is None or as_of >= deleted_at):
            return objects.deleted("product", prod.id)
        default = next((pr.id for pr in prod.prices if pr.active), None)
        metadata = {}
        if prod.app_product_id:
            metadata = {
                "app_product_id": prod.app_product_id,
                "app_project_id": self.catalog.app_project_id,
            }
        return objects.product(
            id=prod.id,
            name=prod.name,
            created=self.catalog_created + p * 60,
            active=prod.active,
            default_price=default,
            description=prod.description,
            metadata=metadata,
            marketing_features=[{"name": "Email support"}] if p < 3 else [],
        )

    def render_price(self, k: int) -> dict:
        pr = self.catalog.prices[k]
        metadata = {}
        if pr.app_price_id:
            metadata = {"app_price_id": pr.app_price_id, "app_sku_id": pr.app_sku_id}
        return objects.price(
            id=pr.id,
            product=pr.product_id,
            currency=pr.currency,
            unit_amount=pr.unit_amount,
            created=self.catalog_created + 30 + k * 60,
            active=pr.active,
            recurring={"interval": pr.interval} if pr.interval else None,
            metadata=metadata,
            nickname=pr.nickname,
            lookup_key=pr.lookup_key,
        )

    def billing(self, pay: Payment) -> dict:
        if pay.customer is not None and pay.customer < len(self._billing):
            return self._billing[pay.customer]
        if pay.customer is not None:
            return self._billing_for(pay.customer)
        return self._guest_billing[pay.card]

    def render_charge(self, i: int, as_of: int | None = None) -> dict:
        pay = self.payment(i)
        amount_refunded = 0
        disputed = False
        if pay.succeeded:
            r = self.refund_index(i)
            if r is not None and (as_of is None or self.refund_created(r) <= as_of):
                failed_at = self.refund_failed_at(r)
                if failed_at is None or failed_at > (self.clock() if as_of is None else as_of):
                    amount_refunded = self.refund_amount(r)
            d = self.dispute_index(i)
            disputed = d is not None and (as_of is None or self.dispute_created(d) <= as_of)
        extra: dict[str, Any] = {}
        if pay.succeeded:
            status, failure_code, failure_message = "succeeded", None, None
        else:
            status, failure_code, failure_message = "failed", "card_declined", DECLINE_MESSAGE
        if pay.method != "card":
            extra = self.bank_charge_fields(i, pay, as_of)
            status = extra.pop("status")
            failure_code = extra.pop("failure_code")
            failure_message = extra.pop("failure_message")
        elif pay.application_fee:
            extra = {
                "application": self.application,
                "application_fee": self.platform.application_fee_id(self.number, i),  # type: ignore[union-attr]
                "application_fee_amount": pay.application_fee,
            }
        return objects.charge(
            id=self.gen_id("ch", "c", i),
            amount=pay.amount,
            currency=pay.currency,
            created=pay.created,
            status=status,
            balance_transaction=self.gen_id("txn", "c", i) if pay.succeeded else None,
            payment_intent=self.gen_id("pi", "c", i),
            payment_method=self.gen_id("pm", "c", i),
            customer=self.customer_id(pay.customer) if pay.customer is not None else None,
            card=self._card_details[pay.card],
            billing=self.billing(pay),
            metadata=pay.metadata,
            description=pay.price.nickname,
            amount_refunded=amount_refunded,
            disputed=disputed,
            failure_code=failure_code,
            failure_message=failure_message,
            account_tag=self.tag,
            **extra,
        )

    def collect_application_fees(self, application: str, platform: AccountGenerator) -> None:
        """Make this a connected account whose card charges pay `platform` a fee."""
        self.application, self.platform = application, platform
        platform.connected.append(self)
        self._precompute_payments()
        self.payment.cache_clear()  # type: ignore[attr-defined]

    def application_fee_id(self, number: int, i: int) -> str:
        """On the platform: the id of the application fee on charge i of account `number`."""
        return self.gen_id("fee", connect_fees.kind_for(number), i)  # type: ignore[arg-type]

    # -- bank debits (bank_debits.py holds Stripe's rules) ---------------------------------
    def bank_status(self, pay: Payment, as_of: int | None = None) -> str:
        at = self.clock() if as_of is None else as_of
        if bank_debits.decision_at(pay.created, pay.method) > at:
            return "pending"
        return "failed" if pay.bank_failed else "succeeded"

    def bank_charge_fields(self, i: int, pay: Payment, as_of: int | None) -> dict:
        status = self.bank_status(pay, as_of)
        failed = status == "failed"
        fields = bank_debits.charge_overrides(
            status,
            pay.failure_code if failed else None,
            self.gen_id("txn", "b", i) if failed else None,
        )
        fields["payment_method_details"] = bank_debits.charge_details(
            pay.method, pay.created, self._bank_fingerprint(pay), self.gen_id("mandate", "c", i)
        )
        return fields

    def _bank_fingerprint(self, pay: Payment) -> str:
        return _b62(mix(self.key ^ (pay.customer or 0) ^ 0xBA2), 8)

    def render_bank_failure_bt(self, i: int) -> dict:
        pay = self.payment(i)
        return bank_debits.failure_balance_transaction(
            id=self.gen_id("txn", "b", i),
            payment_bt=self.render_charge_bt(i),
            created=bank_debits.decision_at(pay.created, pay.method),
            source=self.gen_id("ch", "c", i),
            status=self._available(pay.created, pay.method)[1],
        )

    def render_payment_method(self, i: int) -> dict:
        pay = self.payment(i)
        if pay.method != "card":
            return bank_debits.payment_method(
                self.gen_id("pm", "c", i),
                pay.method,
                pay.created,
                self._bank_fingerprint(pay),
                self.billing(pay),
                self.customer_id(pay.customer) if pay.customer is not None else None,
            )
        return objects.payment_method_card(
            id=self.gen_id("pm", "c", i),
            created=pay.created,
            card=self._card_details[pay.card],
            billing=self.billing(pay),
            customer=self.customer_id(pay.customer) if pay.customer is not None else None,
        )

    def render_payment_intent(self, i: int, stage: str = "final", as_of: int | None = None) -> dict:
        """stage: "created" (before confirmation) or "final" (as of `as_of`, default now)."""
        pay = self.payment(i)
        created_stage = stage == "created"
        status = "succeeded" if pay.succeeded else "requires_payment_method"
        error = None
        extra: dict[str, Any] = {}
        if pay.method != "card":
            bank = self.bank_status(pay, as_of)
            status = {"pending": "processing", "failed": "requires_payment_method"}.get(
                bank, "succeeded"
            )
            extra["payment_method_types"] = [pay.method]
            if bank == "failed":
                error = {
                    **objects.card_decline_error(
                        self.gen_id("ch", "c", i), self.render_payment_method(i)
                    ),
                    "code": pay.failure_code,
                    "decline_code": None,
                    "message": bank_debits.FAILURES[pay.failure_code],  # type: ignore[index]
                }
            if bank != "succeeded":
                extra["amount_received"] = 0
        elif not pay.succeeded and not created_stage:
            error = objects.card_decline_error(
                self.gen_id("ch", "c", i), self.render_payment_method(i)
            )
        elif pay.application_fee:
            extra["application_fee_amount"] = pay.application_fee
        return objects.payment_intent(
            id=self.gen_id("pi", "c", i),
            amount=pay.amount,
            currency=pay.currency,
            created=pay.created,
            status="requires_payment_method" if created_stage else status,
            latest_charge=None if created_stage else self.gen_id("ch", "c", i),
            payment_method=None
            if created_stage or not pay.succeeded
            else self.gen_id("pm", "c", i),
            customer=self.customer_id(pay.customer) if pay.customer is not None else None,
            metadata=pay.metadata,
            description=pay.price.nickname,
            last_payment_error=error,
            **extra,
        )

    def _available(self, created: int, method: str = "card") -> tuple[int, str]:
        if method == "card":
            available_on = created - created % DAY + AVAILABLE_AFTER
        else:
            available_on = bank_debits.available_on(created, method)
        return available_on, "available" if available_on <= self.clock() else "pending"

    def render_charge_bt(self, i: int) -> dict:
        pay = self.payment(i)
        if pay.method == "card":
            created = pay.created
            available_on = created - created % DAY + AVAILABLE_AFTER
            bt_type = "charge"
        else:
            available_on = bank_debits.available_on(pay.created, pay.method)
            bt_type = "payment"
        status = "available" if available_on <= self.clock() else "pending"
        fee_details = [objects.fee_detail(pay.fee, self.settle)]
        if pay.application_fee_settled:
            fee_details.append(
                {
                    **objects.fee_detail(
                        pay.application_fee_settled, self.settle, "Application fee"
                    ),
                    "application": self.application,
                    "type": "application_fee",
                }
            )
        return objects.balance_transaction(
            id=self.gen_id("txn", "c", i),
            amount=pay.settle_amount,
            currency=self.settle,
            created=pay.created,
            available_on=available_on,
            source=self.gen_id("ch", "c", i),
            # Stripe types card payments "charge" and other methods' "payment"; both report
            # in the "charge" category.
            type=bt_type,
            reporting_category="charge",
            fee=pay.fee + pay.application_fee_settled,
            fee_details=fee_details,
            exchange_rate=pay.exchange_rate,
            status=status,
            description=pay.price.nickname,
        )

    def render_refund(self, r: int, as_of: int | None = None) -> dict:
        i = self.refund_charge(r)
        pay = self.payment(i)
        extra: dict[str, Any] = {}
        failed_at = self.refund_failed_at(r)
        if failed_at is not None and failed_at <= (self.clock() if as_of is None else as_of):
            extra = {
                "status": "failed",
                "failure_reason": "expired_or_canceled_card",
                "failure_balance_transaction": self.gen_id("txn", "x", r),
            }
        return objects.refund(
            id=self.gen_id("re", "r", r),
            amount=self.refund_amount(r),
            currency=pay.currency,
            created=self.refund_created(r),
            charge=self.gen_id("ch", "c", i),
            payment_intent=self.gen_id("pi", "c", i),
            balance_transaction=self.gen_id("txn", "r", r),
            reason="requested_by_customer" if r % 3 else None,
            metadata={},
            customer=self.customer_id(pay.customer) if pay.customer is not None else None,
            payment_method=self.gen_id("pm", "c", i),
            **extra,
        )

    def render_refund_bt(self, r: int, failure: bool = False) -> dict:
        pay = self.payment(self.refund_charge(r))
        created = self.refund_created(r)
        amount = -convert(self.refund_amount(r), pay.currency, self.settle, pay.exchange_rate)
        if failure:
            # Stripe credits a failed refund back as an adjustment in category refund_failure.
            created = self.refund_failed_at(r)  # type: ignore[assignment]
            available_on, status = self._available(created)
            return objects.balance_transaction(
                id=self.gen_id("txn", "x", r),
                amount=-amount,
                currency=self.settle,
                created=created,
                available_on=available_on,
                source=self.gen_id("re", "r", r),
                type="adjustment",
                reporting_category="refund_failure",
                exchange_rate=pay.exchange_rate,
                status=status,
                description="REFUND FAILURE FOR CHARGE (" + pay.price.nickname + ")",
            )
        available_on, status = self._available(created)
        return objects.balance_transaction(
            id=self.gen_id("txn", "r", r),
            amount=amount,
            currency=self.settle,
            created=created,
            available_on=available_on,
            source=self.gen_id("re", "r", r),
            # Refunds of card charges are "refund", of other methods "payment_refund".
            type="refund" if pay.method == "card" else "payment_refund",
            reporting_category="refund",
            exchange_rate=pay.exchange_rate,
            status=status,
            description="REFUND FOR CHARGE (" + pay.price.nickname + ")",
        )

    def render_dispute_bt(self, d: int, reversal: bool = False) -> dict:
        i = self.dispute_charge(d)
        pay = self.payment(i)
        amount = convert(pay.amount, pay.currency, self.settle, pay.exchange_rate)
        charge_id = self.gen_id("ch", "c", i)
        if reversal:
            created = self.dispute_created(d) + DISPUTE_DECISION
            fee, amount, category = -DISPUTE_FEE[self.settle], amount, "dispute_reversal"
            description = f"Chargeback reversal for {charge_id}"
            bt_id = self.gen_id("txn", "w", d)
        else:
            created = self.dispute_created(d)
            fee, amount, category = DISPUTE_FEE[self.settle], -amount, "dispute"
            description = f"Chargeback withdrawal for {charge_id}"
            bt_id = self.gen_id("txn", "d", d)
        available_on, status = self._available(created)
        return objects.balance_transaction(
            id=bt_id,
            amount=amount,
            currency=self.settle,
            created=created,
            available_on=available_on,
            source=self.gen_id("dp", "d", d),
            type="adjustment",
            reporting_category=category,
            fee=fee,
            fee_details=[
                objects.fee_detail(
                    fee, self.settle, "Dispute fee" if fee > 0 else "Dispute fee refund"
                )
            ],
            exchange_rate=pay.exchange_rate,
            status=status,
            description=description,
        )

    def render_dispute(self, d: int, as_of: int | None = None) -> dict:
        i = self.dispute_charge(d)
        pay = self.payment(i)
        created = self.dispute_created(d)
        closed_at = self.dispute_closed_at(d)
        if as_of is not None and closed_at is not None and closed_at > as_of:
            closed_at = None
        bts = [self.render_dispute_bt(d)]
        won = self.dispute_won(d)
        if closed_at is None:
            status = "needs_response"
        elif won:
            status = "won"
            bts.append(self.render_dispute_bt(d, reversal=True))
        else:
            status = "lost"
        reasons = ["fraudulent", "product_not_received", "subscription_canceled", "duplicate"]
        return objects.dispute(
            id=self.gen_id("dp", "d", d),
            amount=pay.amount,
            currency=pay.currency,
            created=created,
            charge=self.gen_id("ch", "c", i),
            payment_intent=self.gen_id("pi", "c", i),
            status=status,
            reason=reasons[mix(self.key ^ 0x4EA ^ d) % len(reasons)],
            balance_transactions=bts,
            card_brand=CARDS[pay.card][0],
            due_by=created + 8 * DAY,
            has_evidence=closed_at is not None,
        )

    def invoice_lines(self, i: int) -> list[dict]:
        """One line for the price; one invoice in MULTI_LINE_EVERY bills by period in
        MULTI_LINE_COUNT lines (more than the 10 Stripe embeds), summing to the same total."""
        pay = self.payment(i)
        invoice_id = self.gen_id("in", "i", i)
        subscription = self.subscription_id(pay)
        period = (31 if pay.price.interval == "month" else 365) * DAY
        if i % MULTI_LINE_EVERY:
            parts = [(pay.amount, pay.quantity, pay.price.unit_amount, pay.created, pay.created + period,
                      f"{pay.quantity} × {pay.price.nickname}")]  # fmt: skip
        else:
            n = MULTI_LINE_COUNT
            step = period // n
            share, rest = divmod(pay.amount, n)
            parts = [
                (share + (rest if k == n - 1 else 0), 1, share + (rest if k == n - 1 else 0),
                 pay.created + k * step, pay.created + (k + 1) * step,
                 f"{pay.price.nickname}, period {k + 1} of {n}")
                for k in range(n)
            ]  # fmt: skip
        return [
            objects.invoice_line_item(
                id=self.gen_id("il", "i" if k == 0 else _B62[k], i),
                invoice=invoice_id,
                amount=amount,
                currency=pay.currency,
                price=pay.price.id,
                product=pay.price.product_id,
                unit_amount=unit_amount,
                quantity=quantity,
                period_start=start,
                period_end=end,
                description=description,
                subscription=subscription,
                subscription_item=self.gen_id("si", "s", self.subscription_key(pay)),
            )
            for k, (amount, quantity, unit_amount, start, end, description) in enumerate(parts)
        ]

    def subscription_key(self, pay: Payment) -> int:
        """One subscription per customer and recurring price: its invoices are its cycles."""
        return pay.customer * len(self.catalog.prices) + self.catalog.prices.index(pay.price)  # type: ignore[operator]

    def subscription_id(self, pay: Payment) -> str:
        return self.gen_id("sub", "s", self.subscription_key(pay))

    def render_invoice(self, i: int, stage: str = "final") -> dict:
        pay = self.payment(i)
        billing = self.billing(pay)
        status = {"created": "draft", "finalized": "open"}.get(
            stage, "paid" if pay.succeeded else "open"
        )
        return objects.invoice(
            id=self.gen_id("in", "i", i),
            customer=self.customer_id(pay.customer),  # type: ignore[arg-type]
            currency=pay.currency,
            created=pay.created,
            lines=self.invoice_lines(i),
            status=status,
            customer_email=billing["email"],
            customer_name=billing["name"],
            number=f"{self.tag[:8].upper()}-{i + 1:04d}" if status != "draft" else None,
            account_name=BUSINESS_NAMES[self.number % len(BUSINESS_NAMES)],
            paid_at=pay.created,
            billing_reason="subscription_cycle",
            parent={
                "quote_details": None,
                "subscription_details": {
                    "metadata": {},
                    "subscription": self.subscription_id(pay),
                    "subscription_proration_date": None,
                },
                "type": "subscription_details",
            },
        )


# -- streams ---------------------------------------------------------------------------------


_GenStream = GenStream


class ChargeStream(_GenStream):
    object_type, prefix, kind, rank = "charge", "ch", "c", 0

    def created(self, i: int) -> int:
        return self.gen.charge_created(i)

    def render(self, i: int) -> dict:
        return self.gen.render_charge(i)

    def field(self, i: int, name: str) -> Any:
        gen = self.gen
        if name == "customer":
            c = gen.payment(i).customer
            return gen.customer_id(c) if c is not None else None
        if name == "payment_intent":
            return gen.gen_id("pi", "c", i)
        return self.render(i).get(name)


class PaymentIntentStream(ChargeStream):
    object_type, prefix, kind = "payment_intent", "pi", "c"

    def render(self, i: int) -> dict:
        return self.gen.render_payment_intent(i)


class PaymentMethodStream(ChargeStream):
    object_type, prefix, kind = "payment_method", "pm", "c"

    def render(self, i: int) -> dict:
        return self.gen.render_payment_method(i)


class InvoiceStream(ChargeStream):
    object_type, prefix, kind = "invoice", "in", "i"

    def exists(self, i: int) -> bool:
        return self.gen.has_invoice(self.gen.payment(i))

    def render(self, i: int) -> dict:
        return self.gen.render_invoice(i)


class LineItemStream(InvoiceStream):
    object_type, prefix, kind = "line_item", "il", "i"

    def render(self, i: int) -> dict:
        return self.gen.invoice_lines(i)[0]


class ChargeBTStream(ChargeStream):
    object_type, prefix, kind, rank = "balance_transaction", "txn", "c", 0

    def exists(self, i: int) -> bool:
        return self.gen.payment(i).succeeded

    def render(self, i: int) -> dict:
        return self.gen.render_charge_bt(i)

    def settle(self, i: int) -> tuple[int, int] | None:
        """(available_on, net) of object i, if it exists at some time (payouts.py sums these
        without rendering)."""
        pay = self.gen.payment(i)
        if not pay.succeeded:
            return None
        available_on = self.gen._available(pay.created, pay.method)[0]
        return available_on, pay.settle_amount - pay.fee - pay.application_fee_settled

    def field(self, i: int, name: str) -> Any:
        if name == "type":
            return "charge" if self.gen.payment(i).method == "card" else "payment"
        if name == "source":
            return self.gen.gen_id("ch", "c", i)
        return self.render(i).get(name)


class RefundStream(_GenStream):
    object_type, prefix, kind, rank = "refund", "re", "r", 1

    def created(self, i: int) -> int:
        return self.gen.refund_created(i)

    def exists(self, i: int) -> bool:
        return self.gen.refund_exists(i)

    def render(self, i: int) -> dict:
        return self.gen.render_refund(i)

    def field(self, i: int, name: str) -> Any:
        if name == "charge":
            return self.gen.gen_id("ch", "c", self.gen.refund_charge(i))
        if name == "payment_intent":
            return self.gen.gen_id("pi", "c", self.gen.refund_charge(i))
        return self.render(i).get(name)


class RefundBTStream(RefundStream):
    object_type, prefix, kind = "balance_transaction", "txn", "r"

    def render(self, i: int) -> dict:
        return self.gen.render_refund_bt(i)

    def settle(self, i: int) -> tuple[int, int] | None:
        gen = self.gen
        if not gen.refund_exists(i):
            return None
        pay = gen.payment(gen.refund_charge(i))
        amount = convert(gen.refund_amount(i), pay.currency, gen.settle, pay.exchange_rate)
        return gen._available(gen.refund_created(i))[0], -amount

    def field(self, i: int, name: str) -> Any:
        if name == "type":
            pay = self.gen.payment(self.gen.refund_charge(i))
            return "refund" if pay.method == "card" else "payment_refund"
        if name == "source":
            return self.gen.gen_id("re", "r", i)
        return self.render(i).get(name)


class DisputeStream(_GenStream):
    object_type, prefix, kind, rank = "dispute", "dp", "d", 2

    def created(self, i: int) -> int:
        return self.gen.dispute_created(i)

    def exists(self, i: int) -> bool:
        return self.gen.dispute_exists(i)

    def render(self, i: int) -> dict:
        return self.gen.render_dispute(i)

    def field(self, i: int, name: str) -> Any:
        if name == "charge":
            return self.gen.gen_id("ch", "c", self.gen.dispute_charge(i))
        if name == "payment_intent":
            return self.gen.gen_id("pi", "c", self.gen.dispute_charge(i))
        return self.render(i).get(name)


class DisputeBTStream(DisputeStream):
    object_type, prefix, kind = "balance_transaction", "txn", "d"

    def render(self, i: int) -> dict:
        return self.gen.render_dispute_bt(i)

    reversal = False

    def settle(self, i: int) -> tuple[int, int] | None:
        gen = self.gen
        if not gen.dispute_exists(i) or (self.reversal and not gen.dispute_won(i)):
            return None
        pay = gen.payment(gen.dispute_charge(i))
        amount = convert(pay.amount, pay.currency, gen.settle, pay.exchange_rate)
        net = amount + DISPUTE_FEE[gen.settle]
        created = gen.dispute_created(i) + (DISPUTE_DECISION if self.reversal else 0)
        return gen._available(created)[0], net if self.reversal else -net

    def field(self, i: int, name: str) -> Any:
        if name == "type":
            return "adjustment"
        if name == "source":
            return self.gen.gen_id("dp", "d", i)
        return self.render(i).get(name)


class DisputeReversalBTStream(DisputeBTStream):
    kind, rank = "w", 3
    reversal = True

    def created(self, i: int) -> int:
        return self.gen.dispute_created(i) + DISPUTE_DECISION

    def exists(self, i: int) -> bool:
        gen = self.gen
        return gen.dispute_exists(i) and gen.dispute_closed_at(i) is not None and gen.dispute_won(i)

    def render(self, i: int) -> dict:
        return self.gen.render_dispute_bt(i, reversal=True)


class CatalogStream(_GenStream):
    """Products, prices or customers: small, but generated like the rest (ids decode)."""

    rank = 0

    def __init__(self, gen: AccountGenerator, object_type: str) -> None:
        self.object_type = object_type
        self.prefix, self.kind, n = {
            "product": ("prod", "k", len(gen.catalog.products)),
            "price": ("price", "k", len(gen.catalog.prices)),
            "customer": ("cus", "u", gen.n_customers),
        }[object_type]
        super().__init__(gen, n)

    def created(self, i: int) -> int:
        gen = self.gen
        if self.object_type == "product":
            return gen.catalog_created + i * 60
        if self.object_type == "price":
            return gen.catalog_created + 30 + i * 60
        return gen.customers_created + i

    def render(self, i: int) -> dict:
        gen = self.gen
        if self.object_type == "product":
            return gen.render_product(i)
        if self.object_type == "price":
            return gen.render_price(i)
        return gen.render_customer(i)


# Events. Each event stream follows one object stream; event index = object index * K + slot.
PAYMENT_EVENT_SLOTS = 6


_EventStream = EventStream


class PaymentEventStream(_EventStream):
    kind, rank, slots = "p", 0, PAYMENT_EVENT_SLOTS
    event_types = frozenset(
        [
            "payment_intent.created",
            "payment_intent.processing",
            "charge.pending",
            "charge.succeeded",
            "charge.failed",
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_failed",
        ]
    )

    def object_created(self, j: int) -> int:
        return self.gen.charge_created(j)

    def event_type(self, i: int) -> str | None:
        j, slot = divmod(i, self.slots)
        pay = self.gen.payment(j)
        if slot == 0:
            return "payment_intent.created"
        if slot == 1:
            if pay.method != "card":
                return "charge.pending"  # the bank answers days later (bank_debits.py)
            return "charge.succeeded" if pay.succeeded else "charge.failed"
        if slot == 2:
            if pay.method != "card":
                return "payment_intent.processing"
            return "payment_intent.succeeded" if pay.succeeded else "payment_intent.payment_failed"
        if not self.gen.has_invoice(pay):
            return None
        if slot == 5 and not pay.succeeded:
            return "invoice.payment_failed"
        return ("invoice.created", "invoice.finalized", "invoice.paid")[slot - 3]

    def data(self, i: int) -> dict:
        j, slot = divmod(i, self.slots)
        gen = self.gen
        if slot == 0:
            return {"object": gen.render_payment_intent(j, stage="created")}
        if slot == 1:
            return {"object": gen.render_charge(j, as_of=gen.charge_created(j))}
        if slot == 2:
            return {"object": gen.render_payment_intent(j, as_of=gen.charge_created(j))}
        stage = ("created", "finalized", "final")[slot - 3]
        data: dict[str, Any] = {"object": gen.render_invoice(j, stage=stage)}
        if slot == 4:
            data["previous_attributes"] = {"status": "draft"}
        elif slot == 5 and gen.payment(j).succeeded:
            data["previous_attributes"] = {"status": "open"}
        return data


class RefundEventStream(_EventStream):
    kind, rank, slots = "r", 1, 2
    event_types = frozenset({"charge.refunded", "refund.created"})

    def object_created(self, j: int) -> int:
        return self.gen.refund_created(j)

    def event_type(self, i: int) -> str | None:
        j, slot = divmod(i, self.slots)
        if not self.gen.refund_exists(j):
            return None
        return ("charge.refunded", "refund.created")[slot]

    def data(self, i: int) -> dict:
        j, slot = divmod(i, self.slots)
        gen = self.gen
        if slot == 1:
            return {"object": gen.render_refund(j, as_of=gen.refund_created(j))}
        charge = gen.render_charge(gen.refund_charge(j), as_of=gen.refund_created(j))
        previous: dict[str, Any] = {"amount_refunded": 0}
        if charge["refunded"]:
            previous["refunded"] = False
        return {"object": charge, "previous_attributes": previous}


class DisputeEventStream(_EventStream):
    kind, rank, slots = "d", 2, 2
    event_types = frozenset({"charge.dispute.created", "charge.dispute.funds_withdrawn"})

    def object_created(self, j: int) -> int:
        return self.gen.dispute_created(j)

    def event_type(self, i: int) -> str | None:
        j, slot = divmod(i, self.slots)
        if not self.gen.dispute_exists(j):
            return None
        return ("charge.dispute.created", "charge.dispute.funds_withdrawn")[slot]

    def data(self, i: int) -> dict:
        j = i // self.slots
        return {"object": self.gen.render_dispute(j, as_of=self.gen.dispute_created(j))}


class DisputeCloseEventStream(_EventStream):
    kind, rank, slots = "w", 3, 2
    event_types = frozenset({"charge.dispute.closed", "charge.dispute.funds_reinstated"})

    def object_created(self, j: int) -> int:
        return self.gen.dispute_created(j) + DISPUTE_DECISION

    def event_type(self, i: int) -> str | None:
        j, slot = divmod(i, self.slots)
        gen = self.gen
        if not gen.dispute_exists(j) or gen.dispute_closed_at(j) is None:
            return None
        if slot == 0:
            return "charge.dispute.closed"
        return "charge.dispute.funds_reinstated" if gen.dispute_won(j) else None

    def data(self, i: int) -> dict:
        j, slot = divmod(i, self.slots)
        data: dict[str, Any] = {"object": self.gen.render_dispute(j)}
        if slot == 0:
            data["previous_attributes"] = {"status": "under_review"}
        return data


class CatalogEventStream(_EventStream):
    """product.created, price.created, customer.created, in created order."""

    kind, rank, slots = "k", 4, 1
    event_types = frozenset(
        {"product.created", "product.deleted", "price.created", "customer.created"}
    )

    def __init__(self, gen: AccountGenerator, store: Store) -> None:
        products = range(len(gen.catalog.products))
        items = [(gen.catalog_created + p * 60, "product", p, "created") for p in products]
        items += [
            (deleted_at, "product", p, "deleted")
            for p in products
            if (deleted_at := gen.product_deleted_at(p)) is not None
        ]
        items += [
            (gen.catalog_created + 30 + k * 60, "price", k, "created")
            for k in range(len(gen.catalog.prices))
        ]
        items += [
            (gen.customers_created + c, "customer", c, "created") for c in range(gen.n_customers)
        ]
        items.sort()
        self.items = items
        super().__init__(gen, len(items), store)

    def object_created(self, j: int) -> int:
        return self.items[j][0]

    def event_type(self, i: int) -> str | None:
        _, kind, _, action = self.items[i]
        return f"{kind}.{action}"

    def data(self, i: int) -> dict:
        created, kind, j, action = self.items[i]
        if kind == "product":
            # product.deleted carries the product as it was just before deletion
            return {"object": self.gen.render_product(j, as_of=created - 1)}
        render = {
            "product": self.gen.render_product,
            "price": self.gen.render_price,
            "customer": self.gen.render_customer,
        }[kind]
        return {"object": render(j)}


# -- wiring ----------------------------------------------------------------------------------


def build_account(store: Store, gen: AccountGenerator) -> Account:
    n = gen.n
    streams: dict[str, list[Stream]] = {
        "product": [CatalogStream(gen, "product")],
        "price": [CatalogStream(gen, "price")],
        "customer": [CatalogStream(gen, "customer")],
        "charge": [ChargeStream(gen, n)],
        "payment_intent": [PaymentIntentStream(gen, n)],
        "payment_method": [PaymentMethodStream(gen, n)],
        "invoice": [InvoiceStream(gen, n)],
        "line_item": [LineItemStream(gen, n)],
        "refund": [RefundStream(gen, gen.n_refunds)],
        "dispute": [DisputeStream(gen, gen.n_disputes)],
        "balance_transaction": [
            ChargeBTStream(gen, n),
            RefundBTStream(gen, gen.n_refunds),
            DisputeBTStream(gen, gen.n_disputes),
            DisputeReversalBTStream(gen, gen.n_disputes),
            adjustments.RefundFailureBTStream(gen, gen.n_refunds),
            adjustments.StripeFeeBTStream(gen),
            adjustments.CorrectionBTStream(gen),
        ],
        "event": [
            PaymentEventStream(gen, n, store),
            RefundEventStream(gen, gen.n_refunds, store),
            DisputeEventStream(gen, gen.n_disputes, store),
            DisputeCloseEventStream(gen, gen.n_disputes, store),
            CatalogEventStream(gen, store),
            adjustments.RefundFailureEventStream(gen, gen.n_refunds, store),
        ],
        "invoice_payment": [invoice_payments.InvoicePaymentStream(gen, n)],
        "application_fee": [],
    }
    if gen.bank_method is not None:
        streams["balance_transaction"].append(bank_debits.BankFailureBTStream(gen, n))
        streams["event"].append(bank_debits.BankOutcomeEventStream(gen, n, store))
    for connected in gen.connected:
        streams["application_fee"].append(connect_fees.ApplicationFeeStream(gen, connected))
        streams["balance_transaction"].append(connect_fees.ApplicationFeeBTStream(gen, connected))
    # Payouts sweep every other balance transaction (payouts.py).
    gen.schedule.streams = list(streams["balance_transaction"])
    streams["payout"] = [payouts.PayoutStream(gen)]
    streams["balance_transaction"] += [
        payouts.PayoutBTStream(gen),
        payouts.PayoutFailureBTStream(gen),
    ]
    streams["event"] += [
        payouts.PayoutCreatedEventStream(gen, store),
        payouts.PayoutOutcomeEventStream(gen, store),
    ]
    by_prefix_kind: dict[tuple[str, str], Stream] = {}
    for stream_list in streams.values():
        for s in stream_list:
            by_prefix_kind[(s.prefix, s.kind)] = s  # type: ignore[attr-defined]
    tag = gen.tag

    def decode(object_id: str) -> tuple[Stream, int] | None:
        prefix, _, body = object_id.partition("_")
        # body: "3" + kind + 6 index chars + 10 account-tag chars + 6 hash chars
        if len(body) != 24 or body[0] != "3" or body[8:18] != tag:
            return None
        stream = by_prefix_kind.get((prefix, body[1]))
        if stream is None:
            return None
        try:
            i = (
                _PAIR_INDEX[body[2:4]] * 14_776_336
                + _PAIR_INDEX[body[4:6]] * 3844
                + _PAIR_INDEX[body[6:8]]
            )
        except KeyError:
            return None
        if i >= len(stream) or stream.id(i) != object_id:
            return None
        return stream, i

    obj = objects.account(
        id=gen.account_id,
        created=gen.catalog_created - 30 * DAY,
        country={"usd": "US", "eur": "FR", "gbp": "GB"}.get(gen.settle, "US"),
        default_currency=gen.settle,
        email=f"owner+{gen.number}@example.com",
        business_name=BUSINESS_NAMES[gen.number % len(BUSINESS_NAMES)],
    )
    account = Account(store, gen.account_id, obj, streams, decode, default_currency=gen.settle)
    account.generator = gen
    return account


def populate(store: Store) -> None:
    """Fill `store` with the platform, its connected accounts and unconnected accounts."""
    opts = store.options
    end = opts.end if opts.end is not None else default_end(store.now())
    start = end - opts.days * DAY
    total = 1 + opts.accounts + opts.unconnected_accounts
    gens = []
    for number in range(total):
        n = opts.charges_by_account.get(number, opts.charges)
        gens.append(AccountGenerator(opts.seed, number, n, start, end, clock=store.now))
    platform = gens[0]
    # Every account that may be connected (now or later through OAuth) has the same generated
    # history however the emulator starts: Stripe never rewrites past charges when a connection
    # is made, and a rerun that starts these accounts connected must serve what the first run,
    # which connected them through OAuth, already landed (nets, payouts, the platform's fees).
    for gen in gens[1:]:
        if connect_fees.kind_for(gen.number) is not None:
            gen.collect_application_fees(opts.client_id, platform)
    for number, gen in enumerate(gens):
        account = build_account(store, gen)
        store.add_account(account, connected=number <= opts.accounts, platform=number == 0)
    live_money.install(store)
    store.add_api_key(opts.api_key, store.platform_id)


# -- live payments ---------------------------------------------------------------------------


class LivePayments:
    """New payments after start-up (`--live-rate`), written like the API writes them."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.count = 0

    def write_one(self) -> dict:
        acct = self.account
        store = acct.store
        gen: AccountGenerator = acct.generator
        pay = gen.payment(gen.n + self.count)
        self.count += 1
        now = store.now()
        pi_id, ch_id = store.new_id("pi"), store.new_id("ch")
        pm_id, txn_id = store.new_id("pm"), store.new_id("txn")
        customer = gen.customer_id(pay.customer) if pay.customer is not None else None
        available_on = now - now % DAY + AVAILABLE_AFTER
        pi_created = objects.payment_intent(
            id=pi_id, amount=pay.amount, currency=pay.currency, created=now,
            status="requires_payment_method", customer=customer, metadata=pay.metadata,
            description=pay.price.nickname,
        )  # fmt: skip
        acct.put(pi_created)
        acct.emit_event("payment_intent.created", pi_created)
        card, billing = gen._card_details[pay.card], gen.billing(pay)
        if not pay.succeeded:
            # Declined, as a live integration sees some: no balance transaction.
            charge = objects.charge(
                id=ch_id, amount=pay.amount, currency=pay.currency, created=now,
                status="failed", payment_intent=pi_id, payment_method=pm_id, customer=customer,
                card=card, billing=billing, metadata=pay.metadata,
                description=pay.price.nickname, failure_code="card_declined",
                failure_message=objects.DECLINE_MESSAGE, account_tag=gen.tag,
            )  # fmt: skip
            acct.put(charge)
            acct.emit_event("charge.failed", charge)
            pm = objects.payment_method_card(pm_id, now, card, billing, customer)
            pi = {**pi_created, "latest_charge": ch_id,
                  "last_payment_error": objects.card_decline_error(ch_id, pm)}  # fmt: skip
            acct.put(pi)
            acct.emit_event(
                "payment_intent.payment_failed",
                pi,
                previous_attributes={"last_payment_error": None, "latest_charge": None},
            )
            return charge
        bt = objects.balance_transaction(
            id=txn_id, amount=pay.settle_amount, currency=gen.settle, created=now,
            available_on=available_on, source=ch_id,
            type="charge", reporting_category="charge",
            fee=pay.fee, fee_details=[objects.fee_detail(pay.fee, gen.settle)],
            exchange_rate=pay.exchange_rate, status="pending", description=pay.price.nickname,
        )  # fmt: skip
        acct.put(bt)
        charge = objects.charge(
            id=ch_id, amount=pay.amount, currency=pay.currency, created=now,
            balance_transaction=txn_id, payment_intent=pi_id, payment_method=pm_id,
            customer=customer, card=card, billing=billing,
            metadata=pay.metadata, description=pay.price.nickname, account_tag=gen.tag,
        )  # fmt: skip
        acct.put(charge)
        acct.emit_event("charge.succeeded", charge)
        pi = {**pi_created, "status": "succeeded", "amount_received": pay.amount,
              "latest_charge": ch_id, "payment_method": pm_id}  # fmt: skip
        acct.put(pi)
        acct.emit_event(
            "payment_intent.succeeded",
            pi,
            previous_attributes={"status": "requires_confirmation"},
        )
        return charge
