"""Usage reports as CSV, the same columns whether the admin API (``format=csv``) or
the CLI (``--csv``) writes them.

Rows are plain mappings with the fields of ``tollway.domain.usage.UsageRow``: the
API passes the report as Python values (exact ``Decimal`` costs, ``datetime``), the CLI
the JSON it received (numbers and ISO strings); both come out the same. Only the
columns of the dimensions grouped by appear, ids next to their names, then the sums.
There is no totals row: a spreadsheet sums a column itself, and a totals row would be
counted twice by anyone who does.

Standard library only: the CLI imports it on every ``tollway usage`` run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# The CSV columns of each dimension (its JSON field names).
DIMENSION_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "key": ("key_id", "key_name"),
    "team": ("team_id", "team_name"),
    "provider": ("provider_id", "provider_name"),
    "provider_key": ("provider_key_id", "provider_key_label"),
    "model": ("model",),
    "route": ("route",),
    "day": ("day",),
    "hour": ("hour",),
}
SUM_COLUMNS = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost_usd",
    "unpriced_requests",
)
# A text cell starting with one of these is a formula to spreadsheet programs
# (CSV injection); such cells get a leading apostrophe, which they display as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def columns(group_by: Sequence[str]) -> list[str]:
    return [name for dim in group_by for name in DIMENSION_COLUMNS[dim]] + list(SUM_COLUMNS)


def report_csv(group_by: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    header = columns(group_by)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(name, row.get(name)) for name in header])
    return buffer.getvalue()


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "day":
        return _moment(value).strftime("%Y-%m-%d")
    if name == "hour":
        return _moment(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == "cost_usd":
        return _decimal(value)
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


def _moment(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC)


def _decimal(value: Decimal | float | int | str) -> str:
    """Plain notation without trailing zeros: 1.5e-07 and Decimal("1.50E-7") both
    become 0.00000015."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    plain = format(number, "f")
    return plain.rstrip("0").rstrip(".") if "." in plain else plain
