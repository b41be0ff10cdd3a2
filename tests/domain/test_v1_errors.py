"""The /v1 error catalogue: its docstring table and its factories say the same thing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import orjson
import pytest

from tests.quotas.support import limit
from tollway.api.inference.streaming import client_events, shutdown_event
from tollway.domain import v1_errors as catalogue
from tollway.domain.v1_errors import ErrorCode, ErrorType
from tollway.engine.base import StreamInterrupted, UpstreamError
from tollway.engine.outbound import ADDRESS_REFUSED_CODE, REDIRECT_CODE
from tollway.engine.wire import upstream_error
from tollway.errors import InferenceError
from tollway.quotas.admission import InvalidCapError
from tollway.quotas.counters import QuotaStoreRebuildingError, QuotaStoreUnavailableError
from tollway.quotas.model import Denied, Metric, Window
from tollway.routing.table import Unusable
from tollway.store.enums import LimitScope

PROVIDERS = "the provider's"
INVALID = "invalid_request_error"
UNAVAILABLE = "service_unavailable"


class Row(NamedTuple):
    status: str
    type: str
    code: str
    when: str


def documented_rows() -> list[Row]:
    lines = catalogue.documented_table().splitlines()
    assert lines[0] == "| status | type | code | when |"
    assert set(lines[1]) <= {"|", "-"}
    rows = [Row(*(cell.strip() for cell in line.strip("|").split("|"))) for line in lines[2:]]
    assert rows
    return rows


PLACEHOLDERS = {
    "{scope}": "|".join(LimitScope),
    "{metric}": "|".join(Metric),
    "{window}": "|".join(Window),
}


def _fits(cell: str, value: str) -> bool:
    """``value`` is what ``cell`` documents: itself, a ``{name}`` template, the
    provider's (anything), or ``4xx``."""
    if cell.startswith(PROVIDERS):
        return True
    if cell == "4xx":
        return 400 <= int(value) < 500
    pattern = cell
    for placeholder, values in PLACEHOLDERS.items():
        pattern = pattern.replace(placeholder, f"({values})")
    return re.fullmatch(pattern, value) is not None


def rows_of(error: InferenceError) -> list[Row]:
    seen = (str(error.status_code), error.error_type, error.code)
    return [
        row
        for row in documented_rows()
        if all(_fits(cell, value) for cell, value in zip(row[:3], seen, strict=True))
    ]


def _denied(metric: Metric, window: Window, retry_after: int | None = 20) -> Denied:
    return Denied(limit(metric, window, 100, LimitScope.TEAM), 100, 1, 1_000_020, retry_after)


def _reasons() -> list[Unusable]:
    return [Unusable(None, "provider 'a': its key was rejected by the provider")]


def _upstream(status: int, **fields: Any) -> UpstreamError:
    return upstream_error(status, "the provider said no", **fields)


# Each error the factories make, with the (status, type, code) its row documents.
EXAMPLES: list[tuple[InferenceError, tuple[str, str, str]]] = [
    (catalogue.invalid_request("bad", "temperature"), ("400", INVALID, INVALID)),
    (catalogue.invalid_cap(InvalidCapError("Invalid 'n'", "n")), ("400", INVALID, INVALID)),
    (catalogue.invalid_api_key(), ("401", INVALID, "invalid_api_key")),
    (catalogue.model_not_found("m"), ("404", INVALID, "model_not_found")),
    (
        catalogue.previous_response_not_found("resp_1"),
        ("400", INVALID, "previous_response_not_found"),
    ),
    (catalogue.response_not_found("resp_1"), ("404", INVALID, "response_not_found")),
    (catalogue.routing_error(404, "GET", "/v1/x"), ("404", INVALID, "unknown_url")),
    (
        catalogue.routing_error(405, "GET", "/v1/embeddings", {"Allow": "POST"}),
        ("405", INVALID, "method_not_allowed"),
    ),
    (catalogue.body_too_large(10), ("413", INVALID, INVALID)),
    (catalogue.client_error(_upstream(400)), ("4xx", f"{PROVIDERS}, else {INVALID}", PROVIDERS)),
    (
        catalogue.client_error(_upstream(422, code="x")),
        ("4xx", f"{PROVIDERS}, else {INVALID}", PROVIDERS),
    ),
    (
        catalogue.quota_denied(_denied(Metric.REQUESTS, Window.MINUTE)),
        ("429", "rate_limit_exceeded", "{scope}_{metric}_{window}"),
    ),
    (
        catalogue.quota_denied(_denied(Metric.TOKENS, Window.DAY)),
        ("429", "rate_limit_exceeded", "{scope}_{metric}_{window}"),
    ),
    (
        catalogue.quota_denied(_denied(Metric.USD, Window.TOTAL, None)),
        ("429", "budget_exceeded", "{scope}_usd_{window}"),
    ),
    (
        catalogue.bad_gateway("all failed", _upstream(429, retry_after=3.5)),
        ("429", "rate_limit_exceeded", "rate_limit_exceeded"),
    ),
    (catalogue.client_gone(), ("499", INVALID, "client_closed_request")),
    (catalogue.internal_error(), ("500", "server_error", "internal_error")),
    (catalogue.bad_gateway("all failed"), ("502", "upstream_error", "bad_gateway")),
    (
        catalogue.bad_gateway("all failed", _upstream(504, code="timeout")),
        ("504", "upstream_error", "upstream_timeout"),
    ),
    (catalogue.bad_gateway("all failed", _upstream(503)), ("502", "upstream_error", "bad_gateway")),
    (
        catalogue.bad_gateway("x", _upstream(502, code=REDIRECT_CODE)),
        ("502", "upstream_error", "upstream_redirect"),
    ),
    (
        catalogue.bad_gateway("x", _upstream(502, code=ADDRESS_REFUSED_CODE)),
        ("502", "upstream_error", "upstream_address_refused"),
    ),
    (catalogue.no_usable_deployment("m", _reasons()), ("503", UNAVAILABLE, "no_usable_deployment")),
    (
        catalogue.secret_store_unavailable("m", _reasons()),
        ("503", UNAVAILABLE, "secret_store_unavailable"),
    ),
    (
        catalogue.quota_store_down(QuotaStoreUnavailableError("down", retry_after=3)),
        ("503", UNAVAILABLE, "quota_store_unavailable"),
    ),
    (
        catalogue.quota_store_down(QuotaStoreRebuildingError("rebuilding")),
        ("503", UNAVAILABLE, "quota_store_rebuilding"),
    ),
    (catalogue.usage_journal_down(), ("503", UNAVAILABLE, "usage_journal_unavailable")),
    (catalogue.engine_unavailable("m", "down"), ("503", UNAVAILABLE, "engine_unavailable")),
]
EXAMPLE_IDS = [f"{error.status_code}-{error.code}" for error, _ in EXAMPLES]


@pytest.mark.parametrize(("error", "documented"), EXAMPLES, ids=EXAMPLE_IDS)
def test_each_factory_gives_its_documented_status_type_and_code(
    error: InferenceError, documented: tuple[str, str, str]
) -> None:
    # A provider's 400 may also read as tollway's own: one of its rows is enough.
    assert documented in [row[:3] for row in rows_of(error)]


def test_every_documented_row_is_made_by_a_factory_or_is_an_sse_event() -> None:
    made = {documented for _, documented in EXAMPLES}
    sse = {row[:3] for row in documented_rows() if row.when.startswith("SSE event:")}
    assert {row[:3] for row in documented_rows()} == made | sse
    assert len(documented_rows()) == len(made | sse)  # no row twice


def test_the_enums_are_exactly_what_the_table_names() -> None:
    rows = documented_rows()
    fixed_types = {row.type for row in rows if not row.type.startswith(PROVIDERS)}
    assert fixed_types == set(ErrorType)
    fixed_codes = {row.code for row in rows if "{" not in row.code and row.code != PROVIDERS}
    assert fixed_codes - set(ErrorType) == set(ErrorCode)


async def _interrupted() -> AsyncIterator[dict[str, Any]]:
    yield {"choices": [{"delta": {"content": "Hi"}}]}
    raise StreamInterrupted("the provider closed the stream")


@pytest.mark.anyio
async def test_the_sse_error_events_are_the_documented_ones() -> None:
    events = [event async for event in client_events(_interrupted(), model="m", wants_usage=False)]
    interrupted = orjson.loads(events[-1].removeprefix(b"data: "))["error"]
    shutdown = orjson.loads(shutdown_event().removeprefix(b"data: "))["error"]
    documented = {row[:3] for row in documented_rows() if row.when.startswith("SSE event:")}
    assert {("200", error["type"], error["code"]) for error in (interrupted, shutdown)} == (
        documented
    )


def test_a_renderer_needs_nothing_but_the_errors_headers() -> None:
    assert catalogue.secret_store_unavailable("m", _reasons()).headers == {"Retry-After": "5"}
    assert catalogue.usage_journal_down().headers == {"Retry-After": "5"}
    down = QuotaStoreUnavailableError("down", retry_after=3)
    assert catalogue.quota_store_down(down).headers == {"Retry-After": "3"}
    assert catalogue.quota_store_down(QuotaStoreRebuildingError("r")).headers == {
        "Retry-After": "1"
    }
    throttled = catalogue.bad_gateway("x", _upstream(429, retry_after=3.5))
    # Rounded up: a retry after 3 s of a 3.5 s wait would be refused again.
    assert throttled.headers == {"Retry-After": "4", "x-should-retry": "true"}
    assert catalogue.routing_error(405, "GET", "/v1/x", {"Allow": "POST"}).headers == {
        "Allow": "POST"
    }
    rate = catalogue.quota_denied(_denied(Metric.REQUESTS, Window.MINUTE)).headers
    assert rate == {
        "x-ratelimit-limit-requests": "100",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "20s",
        "retry-after": "20",
        "x-should-retry": "true",
    }
    budget = catalogue.quota_denied(_denied(Metric.USD, Window.TOTAL, None)).headers
    assert "retry-after" not in budget  # a total budget never rolls over
    assert budget["x-should-retry"] == "false"
    for quiet in (catalogue.no_usable_deployment("m", []), catalogue.engine_unavailable("m", "")):
        assert quiet.headers == {}


def test_a_hint_keeps_the_status_type_code_and_headers() -> None:
    error = catalogue.secret_store_unavailable("m", _reasons())
    hinted = catalogue.with_hint(error, "; no fallback")
    assert hinted.message == error.message + "; no fallback"
    assert (hinted.status_code, hinted.error_type, hinted.code, hinted.headers) == (
        error.status_code,
        error.error_type,
        error.code,
        error.headers,
    )


def test_reasons_are_deduplicated_and_bounded() -> None:
    reasons = [Unusable(None, f"reason {i % 8}") for i in range(20)]
    message = catalogue.no_usable_deployment("m", reasons).message
    assert message == (
        "no usable deployment for model `m`: "
        "reason 0; reason 1; reason 2; reason 3; reason 4; and 3 more"
    )
    assert catalogue.no_usable_deployment("m", []).message.endswith(": it has no deployment")
