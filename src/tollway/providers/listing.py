"""Page through one provider's model list and turn whatever happens into a ``Listing``.

Shared by every HTTP family's lister. The network and HTTP failures are classified
exactly as a key check classifies them (``http_check``); what a list adds is paging
(bounded by ``max_pages`` and one deadline over every page), a body that must parse
(else a PROVIDER_ERROR with a short message, never the body's text), Retry-After kept
as seconds, and 404/405 on the first page meaning "this API has no list endpoint": a
static listing, not a failure. Redirects are never followed (``follow_redirects=False``
here; the guarded transport refuses them below that too).
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from tollway.providers.base import KeyCheck, KeyCheckOutcome
from tollway.providers.catalog import CatalogModel, Listing
from tollway.providers.http_check import (
    Refine,
    classify_response,
    endpoint,
    transport_failure,
    unsendable_reason,
)
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

# Enough for any real catalog at the page sizes the listers ask for (1000 a page).
MAX_PAGES = 20
# OpenRouter's list (descriptions included) is a few MB; a page past this is not a list.
MAX_PAGE_BYTES = 32 * 1024 * 1024
_NO_LIST_STATUSES = frozenset({404, 405})
_MAX_RETRY_AFTER = 24 * 3600.0  # a longer wait is a provider's typo, not advice

AuthHeaders = Callable[[SecretValue], Mapping[str, str]]


class MalformedListError(ValueError):
    """A list body that does not have the family's shape. The message is ours, short,
    and never quotes the body."""


@dataclass(frozen=True, slots=True)
class Page:
    models: Sequence[CatalogModel]
    # The query parameters that fetch the next page; None: this was the last one.
    next_params: Mapping[str, str] | None = None


PageParser = Callable[[object], Page]


@dataclass(frozen=True, slots=True)
class HttpModelLister:
    """A ``ModelLister`` for one family: its path, auth, first query and page parser."""

    provider_type: ProviderType
    default_base_url: str | None
    path: str
    parse: PageParser
    auth: AuthHeaders
    # The first page's query, as pairs so the lister (and its Family) stays hashable.
    first_params: tuple[tuple[str, str], ...] = ()
    refine: Refine | None = None
    max_pages: int = MAX_PAGES

    def list_models(
        self,
        client: httpx.Client,
        base_url: str | None,
        key: SecretValue | None,
        *,
        deadline_seconds: float,
    ) -> Listing:
        url = endpoint(self.provider_type, base_url, self.default_base_url, self.path)
        if key is not None and (unsendable := unsendable_reason(key)) is not None:
            return Listing(KeyCheckOutcome.REJECTED, message=unsendable)
        return _Run(self, client, url, key, deadline_seconds).pages()


class _Run:
    """One listing: the state of its paging loop."""

    def __init__(
        self,
        lister: HttpModelLister,
        client: httpx.Client,
        url: str,
        key: SecretValue | None,
        deadline_seconds: float,
    ) -> None:
        self.lister = lister
        self.client = client
        self.url = url
        self.key = key
        # The sanitizer scrubs this key out of provider text; no key, nothing to scrub.
        self.scrub_key = key if key is not None else SecretValue("")
        self.deadline_seconds = deadline_seconds
        self.started = time.perf_counter()
        self.deadline = self.started + deadline_seconds

    def pages(self) -> Listing:
        models: list[CatalogModel] = []
        params: Mapping[str, str] = dict(self.lister.first_params)
        seen: set[tuple[tuple[str, str], ...]] = set()
        for number in range(self.lister.max_pages):
            outcome = self._page(params, first=number == 0)
            if isinstance(outcome, Listing):
                return outcome
            models.extend(outcome.models)
            if outcome.next_params is None:
                return self._done(models)
            params = {**dict(self.lister.first_params), **outcome.next_params}
            cursor = tuple(sorted(params.items()))
            if cursor in seen:  # a cursor that does not advance would loop forever
                return self._malformed("its paging cursor repeated itself", 200)
            seen.add(cursor)
        return self._failed(
            KeyCheckOutcome.PROVIDER_ERROR,
            f"the provider's model list did not end after {self.lister.max_pages} pages; "
            "try again later",
            200,
        )

    def _page(self, params: Mapping[str, str], *, first: bool) -> Page | Listing:
        response = self._send(params)
        if isinstance(response, Listing):
            return response
        try:
            if first and response.status_code in _NO_LIST_STATUSES:
                return self._static(response.status_code)
            if not response.is_success:
                check = classify_response(
                    response, self.scrub_key, self._elapsed(), self.lister.refine
                )
                return self._from_check(check, _retry_after(response.headers))
            body = self._read(response)
        finally:
            response.close()
        if body is None:
            return self._out_of_time()
        return self._parse(body, response.status_code)

    def _send(self, params: Mapping[str, str]) -> httpx.Response | Listing:
        """The page's response (its body unread), or the failure as a listing."""
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:
            return self._out_of_time()
        timeout = _bounded(self.client.timeout, remaining)
        headers = self.lister.auth(self.key) if self.key is not None else {}
        try:
            request = self.client.build_request(
                "GET", self.url, params=params, headers=headers, timeout=timeout
            )
            return self.client.send(request, stream=True, follow_redirects=False)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            check = transport_failure(exc, self.url, self._elapsed(), timeout)
            if check.outcome is KeyCheckOutcome.TIMEOUT and _deadline_bound(self.client, remaining):
                return self._out_of_time()  # the deadline ran out, not the client's limit
            return self._from_check(check)

    def _read(self, response: httpx.Response) -> bytes | str | None:
        """The body, or None past the deadline; a body past the cap or cut short is
        returned as the text of a MalformedListError so the caller reports it."""
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_PAGE_BYTES:
                    return "it is larger than a model list can be"
                if time.perf_counter() > self.deadline:
                    return None
        except httpx.TimeoutException:
            return None
        except httpx.HTTPError:
            return "the connection broke while it was sent"
        return b"".join(chunks)

    def _parse(self, body: bytes | str, status: int) -> Page | Listing:
        if isinstance(body, str):
            return self._malformed(body, status)
        try:
            payload = json.loads(body)
        except ValueError:
            return self._malformed("it is not JSON", status)
        try:
            return self.lister.parse(payload)
        except MalformedListError as exc:
            return self._malformed(str(exc), status)

    def _done(self, models: list[CatalogModel]) -> Listing:
        # Pages may overlap when the list changes while it is read: the first entry wins.
        unique: dict[str, CatalogModel] = {}
        for model in models:
            unique.setdefault(model.model_id, model)
        return Listing(
            KeyCheckOutcome.VALID,
            tuple(unique.values()),
            message=f"the provider listed {len(unique)} models",
            status_code=200,
            latency_ms=self._elapsed(),
        )

    def _static(self, status: int) -> Listing:
        return Listing(
            KeyCheckOutcome.VALID,
            message=(
                f"the provider has no model list endpoint ({status}): its models come from "
                "LiteLLM's model map"
            ),
            static=True,
            status_code=status,
            latency_ms=self._elapsed(),
        )

    def _out_of_time(self) -> Listing:
        return self._failed(
            KeyCheckOutcome.TIMEOUT,
            f"the provider's model list did not arrive within {self.deadline_seconds:.1f} s: "
            "the provider may be slow or overloaded, try again later",
            None,
        )

    def _malformed(self, why: str, status: int) -> Listing:
        return self._failed(
            KeyCheckOutcome.PROVIDER_ERROR,
            f"the provider's model list could not be read ({why}): check the base URL, "
            "or try again later",
            status,
        )

    def _from_check(self, check: KeyCheck, retry_after: float | None = None) -> Listing:
        return Listing(
            check.outcome,
            message=check.message,
            status_code=check.status_code,
            latency_ms=check.latency_ms,
            retry_after_seconds=retry_after,
        )

    def _failed(self, outcome: KeyCheckOutcome, message: str, status: int | None) -> Listing:
        return Listing(outcome, message=message, status_code=status, latency_ms=self._elapsed())

    def _elapsed(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)


def _bounded(timeout: httpx.Timeout, remaining: float) -> httpx.Timeout:
    """The client's timeouts, none longer than what is left of the deadline."""

    def cap(value: float | None) -> float:
        return remaining if value is None else min(value, remaining)

    return httpx.Timeout(
        connect=cap(timeout.connect),
        read=cap(timeout.read),
        write=cap(timeout.write),
        pool=cap(timeout.pool),
    )


def _deadline_bound(client: httpx.Client, remaining: float) -> bool:
    """Whether what was left of the deadline, not the client's own timeout, limited the call."""
    phases = (client.timeout.connect, client.timeout.read, client.timeout.write)
    return any(phase is None or phase > remaining for phase in phases)


def _retry_after(headers: httpx.Headers) -> float | None:
    """Retry-After in seconds: a number of seconds or an HTTP date; None when absent or odd."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):  # not a delay
        return None
    return min(max(0.0, seconds), _MAX_RETRY_AFTER)
