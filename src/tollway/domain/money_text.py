"""Money for people, one rule for every client (the CLI's tables, the console's pages).

From a dollar up, in cents with thousands separators ($12.40, $1,234.50); below it,
three significant digits ($0.0005, $0.000123), so a tiny cost never reads $0.00.
None is an amount nobody could price: ``unpriced``, never $0.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

UNPRICED = "unpriced"
MILLION = Decimal(1_000_000)


def money(value: object) -> str:
    """USD for people (see the module's docstring); None is ``unpriced``."""
    if value is None:
        return UNPRICED
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    sign, amount = ("-" if amount < 0 else ""), abs(amount)
    if amount == 0 or amount >= 1:
        return f"{sign}${amount:,.2f}"
    places = max(2, 2 - amount.adjusted())  # adjusted(): the exponent of the first digit
    whole, fraction = format(amount.quantize(Decimal(1).scaleb(-places)), "f").split(".")
    return f"{sign}${whole}.{fraction.rstrip('0').ljust(2, '0')}"


def per_million(price_per_token: object) -> str:
    """A per-token USD price as provider price lists quote it: ``$2.50`` per million
    tokens; None is ``unpriced``."""
    if price_per_token is None:
        return UNPRICED
    try:
        return money(Decimal(str(price_per_token)) * MILLION)
    except InvalidOperation:
        return str(price_per_token)
