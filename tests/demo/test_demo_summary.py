"""The demo's summary shows money as people read it: minor units divided by 100, except in
zero-decimal currencies such as JPY."""

from __future__ import annotations

import pytest

from stripe_pipeline.demo import format_money


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (1234567, "usd", "12,345.67"),
        (5, "eur", "0.05"),
        (-2109, "gbp", "-21.09"),
        (12345, "jpy", "12,345"),
        (12345, "JPY", "12,345"),
        (None, "usd", "0.00"),
    ],
)
def test_amounts_are_shown_in_the_currencys_own_units(minor, currency, shown) -> None:
    assert format_money(minor, currency) == shown
