"""Money in the emulator, in one place: currencies, exchange rates, Stripe's fees and when funds
become available. The generator, the write API and the payouts all use these tables, so a
generated payment and an API-made one settle alike.

Amounts are integers in minor units of their currency; zero-decimal currencies (JPY...) are not
multiplied by 100. Rates and fees are the emulator's fixed tables (Stripe's US list prices where
one applies), not live figures.
"""

from __future__ import annotations

DAY = 86_400

ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)

# Value of one major unit in US dollars: the emulator's fixed exchange rates.
USD_VALUE: dict[str, float] = {
    "usd": 1.0,
    "eur": 1.08,
    "gbp": 1.27,
    "jpy": 0.0067,
    "mxn": 0.058,
    "cad": 0.73,
    "aud": 0.66,
    "nzd": 0.6,
    "brl": 0.2,
    "inr": 0.012,
    "chf": 1.13,
    "sek": 0.095,
    "nok": 0.094,
    "dkk": 0.145,
    "pln": 0.25,
    "sgd": 0.75,
    "hkd": 0.128,
}

# Card processing fee by settlement currency: percent and fixed minor units (US: 2.9% + 30c).
CARD_FEE_PERCENT = {"usd": 0.029, "eur": 0.015, "gbp": 0.015, "jpy": 0.036}
CARD_FEE_FIXED = {"usd": 30, "eur": 25, "gbp": 20, "jpy": 0}
CONVERSION_FEE_PERCENT = 0.02
DISPUTE_FEE = {"usd": 1500, "eur": 2000, "gbp": 2000, "jpy": 2000}
# ACH Direct Debit: 0.8 % capped at $5.00; SEPA Direct Debit: a flat 0.35 EUR.
ACH_FEE_PERCENT, ACH_FEE_CAP = 0.008, 500
SEPA_FEE = 35

# Card funds become available two days after the charge, at 00:00 UTC.
CARD_AVAILABLE_DAYS = 2


def minor_unit_factor(currency: str) -> int:
    return 1 if currency in ZERO_DECIMAL else 100


def exchange_rate(from_currency: str, to_currency: str) -> float | None:
    """Stripe's `exchange_rate`: an amount in `from` (major units) times this is the amount in
    `to`. None when no conversion happens."""
    if from_currency == to_currency:
        return None
    return round(USD_VALUE[from_currency] / USD_VALUE[to_currency], 6)


def convert(amount: int, from_currency: str, to_currency: str, rate: float | None) -> int:
    """`amount` of `from_currency` in `to_currency` at `rate` (None: the same currency)."""
    if rate is None:
        return amount
    major = amount / minor_unit_factor(from_currency)
    return round(major * rate * minor_unit_factor(to_currency))


def usd_value(amount: int, currency: str) -> float:
    """What `amount` minor units of `currency` are worth in US dollars."""
    return amount / minor_unit_factor(currency) * USD_VALUE[currency]


def card_fee(settled_amount: int, settlement: str, converted: bool) -> int:
    """Stripe's card fee in the settlement currency, plus the conversion fee when converted."""
    fee = round(settled_amount * CARD_FEE_PERCENT.get(settlement, 0.029))
    fee += CARD_FEE_FIXED.get(settlement, 30)
    if converted:
        fee += round(settled_amount * CONVERSION_FEE_PERCENT)
    return fee


def bank_debit_fee(method: str, amount: int) -> int:
    """Stripe's fee on a bank debit (`us_bank_account` in USD, `sepa_debit` in EUR)."""
    if method == "us_bank_account":
        return min(ACH_FEE_CAP, round(amount * ACH_FEE_PERCENT))
    return SEPA_FEE


def day_start(t: int) -> int:
    return t - t % DAY


def card_available_on(created: int) -> int:
    return day_start(created) + CARD_AVAILABLE_DAYS * DAY
