"""What went wrong while trying a request's candidates, and the error the client
gets when nothing could serve it."""

from __future__ import annotations

from tollway.domain.v1_errors import bad_gateway, engine_unavailable, quota_denied, with_hint
from tollway.engine.base import EngineMisconfigured, EngineUnavailable, UpstreamError
from tollway.errors import InferenceError
from tollway.quotas.model import Denied
from tollway.store.enums import LimitScope

_CALLER_SCOPES = (LimitScope.TOLLWAY_KEY, LimitScope.TEAM)


class Failures:
    """What went wrong so far, to explain a fallback or the final error."""

    def __init__(self) -> None:
        self.tried = 0  # deployments called so far
        self.reason: str | None = None
        self.last: Exception | None = None
        self.denials: list[Denied] = []

    def failed(self, reason: str, error: Exception) -> None:
        self.reason, self.last = reason, error

    def denied(self, denial: Denied) -> None:
        """A limit refused a candidate. The caller's own request and token limits
        refuse every candidate alike: no point trying the others. A USD budget may
        still admit a cheaper one; a provider's limits only that provider."""
        self.denials.append(denial)
        if denial.limit.scope in _CALLER_SCOPES and not denial.limit.is_budget:
            raise quota_denied(denial)

    def quota_error(self) -> InferenceError | None:
        """When limits alone kept every candidate from being tried: the 429 to send,
        naming the caller's own limit first (that one the caller can act on)."""
        if self.tried or not self.denials:
            return None
        own = [d for d in self.denials if d.limit.scope in _CALLER_SCOPES]
        return quota_denied((own or self.denials)[0])


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
