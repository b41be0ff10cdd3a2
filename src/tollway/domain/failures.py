"""What went wrong while trying a request's candidates, and the error the client
gets when nothing could serve it."""

from __future__ import annotations

from tollway.engine.base import EngineMisconfigured, EngineUnavailable, UpstreamError
from tollway.engine.outbound import OUTBOUND_CODES
from tollway.errors import InferenceError
from tollway.quotas.model import Denied


class Failures:
    """What went wrong so far, to explain a fallback or the final error. A record
    only: what to do next is decided in ``tollway.domain.decisions``."""

    def __init__(self) -> None:
        self.tried = 0  # deployments called so far
        self.reason: str | None = None
        self.last: Exception | None = None
        self.denials: list[Denied] = []

    def failed(self, reason: str, error: Exception) -> None:
        self.reason, self.last = reason, error

    def denied(self, denial: Denied) -> None:
        """A limit refused a candidate (``decisions.after_denial`` says what next)."""
        self.denials.append(denial)


def client_error(exc: UpstreamError) -> InferenceError:
    """A request the provider refused: the same request would fail anywhere."""
    return InferenceError(
        exc.message,
        status=exc.status if 400 <= exc.status < 500 else 400,
        error_type=exc.error_type or "invalid_request_error",
        code=exc.code,
        param=exc.param,
    )


def bad_gateway(message: str, exc: UpstreamError | None = None) -> InferenceError:
    if exc is not None and exc.status == 429:
        headers = {"Retry-After": str(int(exc.retry_after or 1))}
        return InferenceError(
            message, status=429, error_type="rate_limit_exceeded", headers=headers
        )
    # tollway's own verdicts on an upstream (a redirect, a refused address) say more.
    code = exc.code if exc is not None and exc.code in OUTBOUND_CODES else "bad_gateway"
    return InferenceError(message, status=502, error_type="upstream_error", code=code)


def final_error(
    model: str, failures: Failures, no_openrouter: bool, fallback_enabled: bool
) -> InferenceError:
    """Why nothing could serve the request, including why there was no fallback."""
    hint = ""
    if fallback_enabled and no_openrouter:
        hint = "; no OpenRouter provider is configured for fallback (add one of type openrouter)"
    elif fallback_enabled:
        hint = f"; `{model}` has no OpenRouter model id to fall back to"
    last = failures.last
    if isinstance(last, InferenceError):
        return InferenceError(
            last.message + hint,
            status=last.status_code,
            error_type=last.error_type,
            code=last.code,
            headers=last.headers,
        )
    if isinstance(last, UpstreamError):
        return bad_gateway(
            f"every deployment of `{model}` failed; last: {last.message}{hint}", last
        )
    detail = last.message if isinstance(last, EngineUnavailable | EngineMisconfigured) else ""
    return InferenceError(
        f"the engine could not serve `{model}`: {detail}{hint}",
        status=503,
        error_type="service_unavailable",
        code="engine_unavailable",
    )
