"""What the catalog page shows: one page of one of a provider's cached catalogs (the
shared keys' or a team key's, ``catalog_scope``) as table rows, its filters, its paging
and the cache's state (age, last error, a refresh running).

Read through the same service as ``GET /admin/v1/providers/{id}/catalog``
(``services.catalog.read``); formatting only here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from urllib.parse import urlencode

from tollway.console.pages.catalog_scope import UNKNOWN_KEY, CatalogScope, catalog_scope
from tollway.domain.catalog_query import CatalogQuery
from tollway.domain.catalog_schemas import CatalogEntry, CatalogRead
from tollway.domain.services import Services
from tollway.providers.catalog import Capability

PER_PAGE = 50
MAX_SEARCH = 200  # as the admin API's ``q``
MILLION = Decimal(1_000_000)

CAPABILITY_OPTIONS = [("", "Any capability"), *((c.value, c.value) for c in Capability)]


@dataclass(frozen=True, slots=True)
class Filters:
    """The page's GET query: search, capability, page number (1-based), and which
    catalog (a team key's id; None: the shared keys')."""

    q: str = ""
    capability: str = ""
    page: int = 1
    key_id: uuid.UUID | None = None

    @property
    def active(self) -> bool:
        return bool(self.q or self.capability)

    def query(self, page: int | None = None) -> str:
        """The query string for these filters (on page ``page``), with its ``?``."""
        params = {"key_id": str(self.key_id or ""), "q": self.q, "capability": self.capability}
        number = self.page if page is None else page
        if number > 1:
            params["page"] = str(number)
        kept = {name: value for name, value in params.items() if value}
        return f"?{urlencode(kept)}" if kept else ""

    def cleared(self) -> Filters:
        """No search, no capability, the first page: the same catalog."""
        return Filters(key_id=self.key_id)


def parse_filters(
    q: str, capability: str, page: int, key_id: str = ""
) -> tuple[Filters, dict[str, str]]:
    """The filters as the operator gave them, and a message per field that is wrong
    (the field is then left out of the query, not refused as a whole)."""
    errors: dict[str, str] = {}
    key: uuid.UUID | None = None
    if key_id.strip():
        try:
            key = uuid.UUID(key_id.strip())
        except ValueError:
            errors["key_id"] = UNKNOWN_KEY
    search = q.strip()
    if len(search) > MAX_SEARCH:
        errors["q"] = f"Search for at most {MAX_SEARCH} characters."
        search = ""
    wanted = capability.strip()
    if wanted and wanted not in {c.value for c in Capability}:
        errors["capability"] = "Choose a capability from the list."
        wanted = ""
    return Filters(search, wanted, page, key), errors


@dataclass(frozen=True, slots=True)
class Row:
    model_id: str
    display_name: str | None
    context_window: str
    max_output: str
    capabilities: list[str]
    input_price: str
    output_price: str
    source: str
    published_as: list[str]


@dataclass(frozen=True, slots=True)
class CatalogView:
    provider_id: uuid.UUID
    provider_name: str
    filters: Filters
    scope: CatalogScope
    catalog: CatalogRead
    rows: list[Row]
    refreshing: bool
    age: str
    pages: int
    first: int  # 1-based number of the first row shown; 0 when none
    last: int
    published: int  # how many of the provider's models are published
    filter_errors: dict[str, str] = field(default_factory=dict)

    @property
    def unknown_key(self) -> bool:
        """The query named a catalog this provider does not have (the page is a 404)."""
        return "key_id" in self.filter_errors

    @property
    def has_previous(self) -> bool:
        return self.filters.page > 1

    @property
    def has_next(self) -> bool:
        return self.filters.page < self.pages


def catalog_view(
    services: Services,
    provider_id: uuid.UUID,
    filters: Filters,
    filter_errors: dict[str, str] | None = None,
) -> CatalogView:
    provider = services.providers.get(provider_id)  # 404 page for an unknown provider
    errors = dict(filter_errors or {})
    scope = catalog_scope(services, provider_id, filters.key_id)
    if scope.error:  # named next to the scope control; the shared catalog shown instead
        errors["key_id"] = scope.error
        filters = replace(filters, key_id=None, page=1)
    offset = (filters.page - 1) * PER_PAGE
    read = services.catalog.read(provider_id, _query(filters, scope.key_id, offset))
    names = services.models.published_names(provider_id)
    rows = [_row(entry, list(names.get(entry.model_id, ()))) for entry in read.items]
    pages = max(1, -(-read.total // PER_PAGE))
    return CatalogView(
        provider_id=provider_id,
        provider_name=provider.name,
        filters=filters,
        scope=scope,
        catalog=read,
        rows=rows,
        refreshing=read.refreshing or services.catalog.refreshing(provider_id),
        age=age_text(read.age_seconds),
        pages=pages,
        first=offset + 1 if rows else 0,
        last=offset + len(rows),
        published=sum(len(listed) for listed in names.values()),
        filter_errors=errors,
    )


def _query(filters: Filters, key_id: uuid.UUID | None, offset: int) -> CatalogQuery:
    """The admin API's query for one page of the chosen catalog."""
    return CatalogQuery(
        key_id=key_id,
        capability=Capability(filters.capability) if filters.capability else None,
        search=filters.q or None,
        limit=PER_PAGE,
        offset=offset,
    )


def _row(entry: CatalogEntry, published_as: list[str]) -> Row:
    return Row(
        model_id=entry.model_id,
        display_name=entry.display_name if entry.display_name != entry.model_id else None,
        context_window=_tokens(entry.context_window),
        max_output=_tokens(entry.max_output_tokens),
        capabilities=sorted(entry.capabilities),
        input_price=_per_million(entry.input_price),
        output_price=_per_million(entry.output_price),
        source=", ".join(sorted(set(entry.sources.values()))) or "—",
        published_as=published_as,
    )


def _tokens(value: int | None) -> str:
    return f"{value:,}" if value is not None else "—"


def _per_million(price: Decimal | None) -> str:
    """USD per million tokens (the catalog keeps USD per token)."""
    if price is None:
        return "—"
    amount = price * MILLION
    return f"${amount:,.2f}" if amount >= Decimal("0.01") or amount == 0 else f"${amount:.4g}"


def age_text(seconds: float | None) -> str:
    """How long ago the catalog was fetched, in words."""
    if seconds is None:
        return "never"
    if seconds < 60:
        return "less than a minute ago"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"  # pragma: no cover  (every age >= 60 s matched a unit)
