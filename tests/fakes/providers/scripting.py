"""What a fake provider does: per key (``Behaviour``) and per model (``ModelBehaviour``).

Key scripting decides whether a caller gets in (auth, rate limits on the key, slow
or hanging auth); model scripting decides how an admitted inference call is
answered. A request header ``x-fake-behaviour: <kind>[:<arg>]`` overrides the
model script for one request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from types import MappingProxyType
from typing import Any, Literal

from tests.fakes.providers.features import FEATURES

Family = Literal["openai", "openrouter", "anthropic", "gemini", "cohere"]
BehaviourKind = Literal["ok", "rejected", "status", "hang", "slow", "echo", "redirect"]

HANG_SECONDS = 30.0
BEHAVIOUR_HEADER = "x-fake-behaviour"


@dataclass(frozen=True, slots=True)
class Behaviour:
    """What the server does for one key."""

    kind: BehaviourKind
    status: int = 200
    delay: float = 0.0
    retry_after: str | None = None
    message: str | None = None  # overrides the family's error message, e.g. to echo a key
    location: str | None = None  # where a "redirect" sends the caller

    @classmethod
    def ok(cls) -> Behaviour:
        return cls("ok")

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Behaviour:
        """Answer every request with the key by a redirect to ``location``."""
        return cls("redirect", status=status, location=location)

    @classmethod
    def rejected(cls) -> Behaviour:
        """The family's own "unknown key" answer (401, or Gemini's 400 API_KEY_INVALID)."""
        return cls("rejected")

    @classmethod
    def error(cls, status: int, *, message: str | None = None) -> Behaviour:
        return cls("status", status=status, message=message)

    @classmethod
    def echoing_credentials(cls, status: int = 401) -> Behaviour:
        """Refuse with an error quoting the credentials the request carried, in every
        encoding (see ``ModelBehaviour.echoing_credentials``), on every route."""
        return cls("echo", status=status)

    @classmethod
    def forbidden(cls) -> Behaviour:
        return cls.error(403)

    @classmethod
    def rate_limited(cls, retry_after: str | None = None) -> Behaviour:
        return cls("status", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Behaviour:
        return cls.error(status)

    @classmethod
    def hang(cls, seconds: float = HANG_SECONDS) -> Behaviour:
        """Send nothing until the server stops (or ``seconds`` pass)."""
        return cls("hang", delay=seconds)

    @classmethod
    def slow(cls, delay: float) -> Behaviour:
        return cls("slow", delay=delay)


@dataclass(frozen=True, slots=True)
class ModelBehaviour:
    """How an admitted inference call for one model is answered.

    The fields are independent, so behaviours combine with ``|``, e.g.
    ``ModelBehaviour.slow_chunks(0.1) | ModelBehaviour.no_usage()``. A "chunk" is
    one text delta of the reply; the reply streams one word per chunk.
    """

    reply: str | None = None  # None: echo the last user message
    first_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    status: int | None = None  # answer with the family's error body instead
    message: str | None = None
    retry_after: str | None = None
    # The error body's ``code`` and ``param``, where the family's error has them.
    error_code: str | None = None
    error_param: str | None = None
    hangs: bool = False
    reset_after_chunks: int | None = None
    usage: bool = True
    # ``failing``: of every ``fail_period`` calls for the model, ``fail_count`` fail.
    fail_count: int = 0
    fail_period: int = 0
    fail_status: int = 500
    # Usage the answer reports, whatever the reply: a provider that over-reports, or
    # ignores the cap (``reported_completion_tokens``), or one that writes exactly as
    # much as the cap in the body field ``fills_cap`` allows, for each of ``n`` choices.
    reported_completion_tokens: int | None = None
    fills_cap: str | None = None
    # Answer ``status`` with the credentials the request carried, in every encoding.
    echo_credentials: bool = False
    # Answer ``status`` with this body as text/html instead of the family's JSON error.
    raw_body: str | None = None
    redirect_to: str | None = None  # answer with a redirect there instead
    redirect_status: int = 302
    # Canned answers (see ``canned``): sent exactly as given, whatever the request said.
    canned_body: Mapping[str, Any] | None = None
    canned_chunks: tuple[Mapping[str, Any] | bytes, ...] | None = None
    canned_done: bool = True
    canned_status: int = 200
    # Calls using any of these features (``features.FEATURES``) get ``refusal_status``.
    refused_features: frozenset[str] = frozenset()
    refusal_status: int = 400

    @classmethod
    def refusing_features(
        cls, *features: str, status: int = 400, message: str | None = None
    ) -> ModelBehaviour:
        """Answer ``status`` (the family's error) to calls that use any of ``features``
        (``stream``, ``tools``, ``json``, ``image``, as the family's wire spells them:
        ``tests/fakes/providers/features.py``) and normally to the rest: the model one
        verification test type fails on."""
        unknown = set(features) - set(FEATURES)
        if unknown or not features:
            raise ValueError(f"refusing_features takes some of {', '.join(FEATURES)}")
        return cls(refused_features=frozenset(features), refusal_status=status, message=message)

    @classmethod
    def canned(
        cls,
        body: Mapping[str, Any] | None = None,
        chunks: Sequence[Mapping[str, Any] | bytes] | None = None,
        *,
        done: bool = True,
        status: int = 200,
    ) -> ModelBehaviour:
        """Answer with exactly what the test gives, for differential tests.

        ``body``: the JSON body, with ``status`` (200 unless told: a canned error body
        is e.g. ``canned({"error": {...}}, status=400)``), of the answer to a call that
        does not stream (and to one that does, when no ``chunks`` are given).
        ``chunks``: a streamed call's answer (always 200), each dict sent as one
        ``data: <json>`` SSE event (bytes are sent verbatim, e.g. an SSE comment
        ``b": ping\\n\\n"``), then ``data: [DONE]`` unless ``done=False``. A call that
        does not stream with only ``chunks`` scripted gets a 500 naming the gap.
        Combines with ``|`` (e.g. ``slow_chunks`` paces the chunks). The fake records the
        request as received: ``server.requests_for_model(model)[-1].body``.
        """
        if body is None and chunks is None:
            raise ValueError("canned needs a body, chunks or both")
        return cls(
            canned_body=body,
            canned_chunks=tuple(chunks) if chunks is not None else None,
            canned_done=done,
            canned_status=status,
        )

    @property
    def is_canned(self) -> bool:
        return self.canned_body is not None or self.canned_chunks is not None

    @classmethod
    def ok(cls, reply: str | None = None) -> ModelBehaviour:
        return cls(reply=reply)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> ModelBehaviour:
        """Answer inference calls with a ``status`` redirect to ``location`` (no body)."""
        return cls(redirect_to=location, redirect_status=status)

    @classmethod
    def slow_first_byte(cls, seconds: float) -> ModelBehaviour:
        return cls(first_byte_delay=seconds)

    @classmethod
    def rate_limited(cls, retry_after: str | None = "3") -> ModelBehaviour:
        return cls(status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> ModelBehaviour:
        return cls(status=status)

    @classmethod
    def bad_request(cls, message: str = "Invalid request") -> ModelBehaviour:
        return cls(status=400, message=message)

    @classmethod
    def error(
        cls, status: int, message: str | None = None, retry_after: str | None = None
    ) -> ModelBehaviour:
        return cls(status=status, message=message, retry_after=retry_after)

    @classmethod
    def refusing(
        cls, status: int, message: str, *, code: str | None, param: str | None
    ) -> ModelBehaviour:
        """Answer ``status`` with an error naming its ``code`` and ``param`` (OpenAI's
        ``context_length_exceeded`` on ``messages``, say)."""
        return cls(status=status, message=message, error_code=code, error_param=param)

    @classmethod
    def hang(cls) -> ModelBehaviour:
        """Send nothing until the server stops; stopping wakes it, so shutdown stays prompt."""
        return cls(hangs=True)

    @classmethod
    def reset_after(cls, chunks: int) -> ModelBehaviour:
        """Stream ``chunks`` text deltas, then RST the connection; non-streaming: RST at once."""
        return cls(reset_after_chunks=chunks)

    @classmethod
    def no_usage(cls) -> ModelBehaviour:
        """Leave usage out of every answer, the final stream usage chunk included."""
        return cls(usage=False)

    @classmethod
    def slow_chunks(cls, seconds: float) -> ModelBehaviour:
        return cls(chunk_delay=seconds)

    @classmethod
    def over_reporting(cls, completion_tokens: int) -> ModelBehaviour:
        """Report ``completion_tokens`` for every answer, whatever cap was asked for."""
        return cls(reported_completion_tokens=completion_tokens)

    @classmethod
    def filling_cap(cls, field: str = "max_tokens") -> ModelBehaviour:
        """Report as many completion tokens as the cap in ``field`` allows, times
        ``n``: an honest provider that reads that field and writes to its limit.
        ``"*"``: the smallest of ``max_tokens`` and ``max_completion_tokens``."""
        return cls(fills_cap=field)

    def completion_tokens(self, body: Mapping[str, object], reply_tokens: int) -> int:
        """The completion tokens an answer to ``body`` reports."""
        if self.reported_completion_tokens is not None:
            return self.reported_completion_tokens
        cap = _cap_in(body, self.fills_cap) if self.fills_cap else None
        if cap is None:
            return reply_tokens
        choices = body.get("n")
        return cap * (choices if type(choices) is int else 1)

    @classmethod
    def failing(cls, count: int, *, of: int = 10, status: int = 500) -> ModelBehaviour:
        """Answer exactly ``count`` of every ``of`` calls for the model with ``status``.

        Deterministic, not random: the server numbers the model's calls, and call
        ``i`` fails when its slot ``i % of`` is one of ``count`` slots spread evenly
        over the period, so any ``of`` consecutive calls hold exactly ``count``
        failures whatever the concurrency.
        """
        if of < 1 or not 0 <= count <= of:
            raise ValueError("failing needs 0 <= count <= of and of >= 1")
        return cls(fail_count=count, fail_period=of, fail_status=status)

    @classmethod
    def echoing_credentials(cls, status: int = 500) -> ModelBehaviour:
        """An error whose message quotes every credential header the request carried:
        raw, URL-encoded, base64 at each alignment (standard and URL-safe, with and
        without padding) and JSON-escaped, as a careless upstream might."""
        return cls(status=status, echo_credentials=True)

    @classmethod
    def non_json(cls, status: int = 502, body: str = "<html>Bad Gateway</html>") -> ModelBehaviour:
        """An error answered by something that is not the API (a proxy's HTML page)."""
        return cls(status=status, raw_body=body)

    @property
    def counts_calls(self) -> bool:
        """Whether the server must number this model's calls (for ``failing``)."""
        return self.fail_period > 0

    def fails_call(self, index: int) -> bool:
        """Whether the model's call number ``index`` (from 0) is a scripted failure."""
        if not self.fail_period:
            return False
        slot, count, period = index % self.fail_period, self.fail_count, self.fail_period
        # Slot s fails when floor(s * count / period) steps up at s + 1 (Bresenham).
        return (slot + 1) * count // period > slot * count // period

    @classmethod
    def from_header(cls, value: str) -> ModelBehaviour:
        """Parse ``<kind>[:<arg>]``; ValueError on anything else."""
        kind, _, arg = value.strip().partition(":")
        parse = _HEADER_KINDS.get(kind.strip())
        if parse is None:
            raise ValueError(f"unknown {BEHAVIOUR_HEADER} kind {kind!r}")
        try:
            return parse(arg.strip())
        except ValueError as exc:
            raise ValueError(f"bad {BEHAVIOUR_HEADER} value {value!r}: {exc}") from None

    def __or__(self, other: ModelBehaviour) -> ModelBehaviour:
        """Every field ``other`` sets (differs from the default) wins."""
        default = ModelBehaviour()
        changes = {
            f.name: getattr(other, f.name)
            for f in fields(ModelBehaviour)
            if getattr(other, f.name) != getattr(default, f.name)
        }
        return replace(self, **changes)


def _cap_in(body: Mapping[str, object], field: str) -> int | None:
    names = ("max_tokens", "max_completion_tokens") if field == "*" else (field,)
    caps = [value for name in names if type(value := body.get(name)) is int]
    return min(caps) if caps else None


def _seconds(arg: str) -> float:
    seconds = float(arg)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("seconds must be a finite number >= 0")
    return seconds


_HEADER_KINDS: Mapping[str, Callable[[str], ModelBehaviour]] = MappingProxyType(
    {
        "ok": lambda arg: ModelBehaviour.ok(arg or None),
        "slow_first_byte": lambda arg: ModelBehaviour.slow_first_byte(_seconds(arg)),
        "rate_limited": lambda arg: ModelBehaviour.rate_limited(arg or "3"),
        "server_error": lambda arg: ModelBehaviour.server_error(int(arg or "500")),
        "bad_request": lambda arg: ModelBehaviour.bad_request(arg or "Invalid request"),
        "hang": lambda _: ModelBehaviour.hang(),
        "reset_after": lambda arg: ModelBehaviour.reset_after(int(arg or "0")),
        "no_usage": lambda _: ModelBehaviour.no_usage(),
        "slow_chunks": lambda arg: ModelBehaviour.slow_chunks(_seconds(arg)),
        "over_reporting": lambda arg: ModelBehaviour.over_reporting(int(arg or "1000000")),
        "filling_cap": lambda arg: ModelBehaviour.filling_cap(arg or "max_tokens"),
        "echo_credentials": lambda arg: ModelBehaviour.echoing_credentials(int(arg or "500")),
        "non_json": lambda arg: ModelBehaviour.non_json(int(arg or "502")),
    }
)


@dataclass(frozen=True, slots=True)
class ListingScript:
    """How a model-list request with one key (or none) is answered.

    The default answers the family's list of the server's models in its real shape,
    paged as the real API pages (Anthropic, Gemini, Cohere) at the size the caller asks.
    """

    # Entries in the family's own shape; None: the router's, made from its ``models``.
    entries: tuple[Mapping[str, Any], ...] | None = None
    page_size: int | None = None  # at most this many entries a page, whatever was asked
    status: int | None = None  # the family's error instead (404/405: no list endpoint)
    retry_after: str | None = None
    location: str | None = None  # where a 3xx ``status`` points
    raw_body: str | None = None  # a 200 with this body as JSON (malformed lists)
    delay: float = 0.0  # before answering each page
    bare_array: bool = False  # OpenAI-style lists: Together AI's bare JSON array

    @classmethod
    def missing(cls, status: int = 404) -> ListingScript:
        return cls(status=status)

    @classmethod
    def error(cls, status: int, retry_after: str | None = None) -> ListingScript:
        return cls(status=status, retry_after=retry_after)

    @classmethod
    def malformed(cls, body: str = "{not json") -> ListingScript:
        return cls(raw_body=body)
