"""What went wrong while trying a request's candidates, and the error the client
gets when nothing could serve it."""

from __future__ import annotations

from tollway.domain.v1_errors import bad_gateway, engine_unavailable, with_hint
from tollway.engine.base import EngineMisconfigured, EngineUnavailable, UpstreamError
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
        return with_hint(last, hint)
    if isinstance(last, UpstreamError):
        return bad_gateway(
            f"every deployment of `{model}` failed; last: {last.message}{hint}", last
        )
    detail = last.message if isinstance(last, EngineUnavailable | EngineMisconfigured) else ""
    return engine_unavailable(model, detail + hint)
