"""The one money formatter: the precision that matters, never $0.00 for a cost that
is not zero, and ``unpriced`` for what nobody could price. No server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tollway.cli.output import cost, money

CASES = [
    (None, "unpriced"),
    (0, "$0.00"),
    (0.0, "$0.00"),
    ("0.0005", "$0.0005"),
    (0.000123456789, "$0.000123"),
    (1.5e-07, "$0.00000015"),
    ("0.000000000001", "$0.000000000001"),
    ("0.5", "$0.50"),
    ("0.125", "$0.125"),
    ("0.0123", "$0.0123"),
    ("0.99999", "$1.00"),
    (1, "$1.00"),
    (12.4, "$12.40"),
    ("12.404", "$12.40"),
    (1234.5, "$1,234.50"),
    (1234.500123, "$1,234.50"),
    (2_000_000, "$2,000,000.00"),
    ("-0.25", "-$0.25"),
]


@pytest.mark.parametrize(("value", "shown"), CASES)
def test_money(value: object, shown: str) -> None:
    assert money(value) == shown


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        ((12.4,), "$12.40"),
        ((12.4, 0, 5), "$12.40"),
        ((12.4, 2, 5), "$12.40 + 2 unpriced"),
        ((0, 2, 2), "unpriced"),
        ((0, 1_500, 3_000), "$0.00 + 1,500 unpriced"),
        ((None, 1), "unpriced"),
    ],
)
def test_cost_with_unpriced_requests(args: tuple[object, ...], shown: str) -> None:
    assert cost(*args) == shown  # type: ignore[arg-type]


amounts = st.decimals(
    min_value=Decimal("0.000000000001"), max_value=Decimal(10**9), places=12, allow_nan=False
)


@given(amounts)
def test_a_cost_keeps_the_precision_that_matters(amount: Decimal) -> None:
    shown = money(amount)
    assert shown.startswith("$")
    value = Decimal(shown[1:].replace(",", ""))
    assert value > 0  # never $0.00 for something
    if amount >= 1:
        assert shown[-3] == "."  # in cents
        assert abs(value - amount) <= Decimal("0.005")
    else:
        assert abs(value - amount) <= amount * Decimal("0.005")  # three significant digits
