"""What differs between the /v1 dialects (OpenAI's Chat Completions, Completions and
Embeddings; OpenAI's Responses API; Anthropic's Messages API), behind one protocol.

The request loop, admission, metering and fallback are the same for every dialect
(``tollway.domain.inference``); a dialect only says how its clients send a key and a
body, and how its answers, streams and errors look on the wire. ``routes`` serves
every dialect's POST endpoint with one handler over these methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from tollway.api.inference.parsing import ParsedBody
from tollway.engine.base import Endpoint
from tollway.errors import InferenceError
from tollway.routing.table import CallerKey

if TYPE_CHECKING:
    from tollway.api.inference.routes import InferenceApi


@dataclass(frozen=True, slots=True)
class Exchange:
    """One admitted /v1 call as the dialect sees it: ``parsed`` is the body being
    served (after ``prepare``), ``sent`` the body as the client sent it (what the
    client asked for, e.g. ``store``, when ``prepare`` changed it)."""

    request_id: str
    caller: CallerKey
    parsed: ParsedBody
    sent: ParsedBody | None = None

    @property
    def client_body(self) -> dict[str, Any]:
        return (self.sent or self.parsed).body


class Dialect(Protocol):
    @property
    def endpoint(self) -> Endpoint: ...

    def credential(self, request: Request) -> str | None:
        """The tollway key the client sent, as the dialect's clients send it."""
        ...

    def upstream_headers(self, request: Request) -> dict[str, str]:
        """The client's request headers the upstream should get (lower-case names), e.g.
        Anthropic's ``anthropic-beta``: the only way a client header reaches an
        engine (``EngineCall.upstream_headers``), which sends it only to the
        upstreams it means something to. Empty for most dialects."""
        ...

    def parse(self, raw: bytes) -> ParsedBody:
        """The checked body; an ``InferenceError`` (400) naming the bad field."""
        ...

    async def prepare(self, api: InferenceApi, exchange: Exchange) -> ParsedBody:
        """The body to serve, once the caller is known (e.g. a conversation's earlier
        turns put in front of a Responses request that continues it)."""
        ...

    async def answer(
        self, api: InferenceApi, exchange: Exchange, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The complete answer as the client receives it."""
        ...

    def events(
        self, api: InferenceApi, exchange: Exchange, stream: AsyncIterable[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        """The stream's events as server-sent-event bytes, ending the dialect's way
        (a mid-stream failure included)."""
        ...

    def error_response(self, error: InferenceError, headers: Mapping[str, str]) -> Response:
        """An error in the dialect's own shape, with ``headers`` added."""
        ...

    def shutdown_event(self, events_sent: int) -> bytes:
        """The last event of a stream the server cut at its shutdown (after
        ``events_sent`` events), in the dialect's own error shape."""
        ...


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, None for anything else."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
