"""The engine contract: run exactly one deployment that routing chose.

tollway decides, the engine executes. An engine never picks another deployment,
never retries, and never falls back: it reports what happened as one of the
errors below, and routing decides what to do next.

Streams are sequences of parsed OpenAI chunks (dicts). Engines always ask the
upstream for usage (``stream_options.include_usage``); whether the client sees
the usage chunk is decided above the engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tollway.secrets.base import SecretValue
from tollway.store.enums import Endpoint, Route

# Endpoint and Route are the data model's (usage_records), re-exported: every engine uses them.
__all__ = [
    "Endpoint",
    "Engine",
    "EngineCall",
    "EngineError",
    "EngineMisconfigured",
    "EngineResult",
    "EngineStream",
    "EngineUnavailable",
    "Route",
    "StreamInterrupted",
    "Target",
    "TokenUsage",
    "UpstreamError",
]


@dataclass(frozen=True, slots=True)
class Target:
    """One deployment, with everything needed to call it and nothing more."""

    deployment_id: str
    # The model id the engine asks for: "<litellm prefix>/<provider model id>" (e.g.
    # "anthropic/claude-x") through LiteLLM, the bare OpenRouter id on the fallback.
    upstream_model: str
    api_key: SecretValue | None
    api_base: str | None
    timeout_seconds: float
    mock: bool = False  # the built-in mock provider: answered without any network


@dataclass(frozen=True, slots=True)
class EngineCall:
    endpoint: Endpoint
    body: Mapping[str, Any]  # the client's body; the engine replaces "model" with the target's
    target: Target
    stream: bool = False
    # Client request headers the dialect lets through (lower-case names, e.g.
    # ``anthropic-beta``). An engine sends each only to the upstreams it means
    # something to, and never lets one replace its own (credentials, version).
    upstream_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(slots=True)
class EngineResult:
    """A complete, successful, OpenAI-shaped response."""

    body: dict[str, Any]
    usage: TokenUsage | None = None
    cost_usd: float | None = None  # the engine's own reported cost, when it gives one
    # The upstream's rate-limit headers (``ratelimit_headers``), where the engine sees
    # its response: never sent on to the client.
    headers: dict[str, str] = field(default_factory=dict)


class EngineStream(Protocol):
    """Chunks of a streamed response. The first chunk has already been received
    when ``open_stream`` returns, so failures before the first byte are raised
    there, where routing can still try another deployment or fall back."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    def ready(self) -> bool:
        """Whether the next chunk is already here (read, not yet handed out): the
        response writes chunks that arrived together as one write."""
        ...

    async def aclose(self) -> None:
        """Stop the upstream call (client went away, or we are done)."""
        ...


class Engine(Protocol):
    @property
    def route(self) -> Route: ...

    async def call(self, call: EngineCall) -> EngineResult: ...

    async def open_stream(self, call: EngineCall) -> EngineStream: ...

    async def ready(self) -> bool:
        """A cheap probe: can this engine take calls right now?"""
        ...

    async def aclose(self) -> None: ...


# -- what can go wrong -----------------------------------------------------------------


class EngineError(Exception):
    """Base of everything an engine raises. Messages are safe to show and log:
    they never contain credentials or raw upstream bodies."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def rewrite(self, scrub: Callable[[str], str]) -> None:
        """Pass the message through ``scrub`` (known secrets out), ``args`` too, so
        ``str(exc)`` and a logged traceback say the same."""
        self.message = scrub(self.message)
        self.args = (self.message,)


class EngineUnavailable(EngineError):  # noqa: N818  (the contract's names)
    """The engine itself cannot serve: unreachable, timed out before the first
    byte, or failing on its own (not because a provider failed)."""


class EngineMisconfigured(EngineError):  # noqa: N818  (the contract's names)
    """The engine answered but cannot run this deployment: unknown model or
    provider, missing credentials. Not the client's fault."""


class UpstreamError(EngineError):
    """The provider answered with an error (or could not be reached by the engine).

    ``retryable``: 429, 5xx, timeouts and connection errors; another deployment
    may succeed. ``key_rejected``: 401/403 from the provider; the provider key is
    bad, not the request. Otherwise the request itself was refused (400, 404,
    422) and the same request would fail anywhere: it goes back to the client.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str = "upstream_error",
        code: str | None = None,
        param: str | None = None,
        retryable: bool = False,
        key_rejected: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.code = code
        self.param = param
        self.retryable = retryable
        self.key_rejected = key_rejected
        self.retry_after = retry_after


class StreamInterrupted(EngineError):  # noqa: N818  (the contract's names)
    """The stream failed after its first chunk: too late to try anything else."""
