"""Money in integer minor units, shown as amounts: the one place that knows how many decimals a
currency has. Stripe stores zero-decimal currencies (JPY, KRW, ...) in whole units, so ¥1,500 is
1500, not 150000 (https://docs.stripe.com/currencies#zero-decimal)."""

from __future__ import annotations

# Stripe's zero-decimal list. The three-decimal currencies (BHD, KWD, ...) are not settled by
# Stripe accounts the pipeline serves, so every other currency has two decimals here.
ZERO_DECIMAL = frozenset(
    {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf",
        "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    }
)  # fmt: skip


def currency_exponent(currency: str) -> int:
    """Decimals of `currency` in Stripe's minor units: 0 for JPY and the like, else 2."""
    return 0 if currency.lower() in ZERO_DECIMAL else 2


def format_money(minor: int | float | None, currency: str) -> str:
    """`minor` units of `currency` as an amount with thousands separators: 123456 usd ->
    "1,234.56", 1500 jpy -> "1,500", -5 eur -> "-0.05". None counts as 0."""
    minor = int(minor or 0)
    exponent = currency_exponent(currency)
    if exponent == 0:
        return f"{minor:,}"
    sign = "-" if minor < 0 else ""
    unit = 10**exponent
    return f"{sign}{abs(minor) // unit:,}.{abs(minor) % unit:0{exponent}d}"
