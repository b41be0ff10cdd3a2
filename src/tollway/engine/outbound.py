"""Outbound refusals (a redirect, a forbidden address) as the engine contract's errors.

Both are the deployment misbehaving or misconfigured, not the request: a 502 that
lets routing move on to the next candidate (never to the redirect's target). The
agent sees what happened, not where: no host, no address, no upstream body.
"""

from __future__ import annotations

from tollway.engine.base import UpstreamError
from tollway.engine.wire import upstream_error
from tollway.net.guard import AddressRefused, OutboundRefused, RedirectRefused

REDIRECT_CODE = "upstream_redirect"
ADDRESS_REFUSED_CODE = "upstream_address_refused"
OUTBOUND_CODES = frozenset({REDIRECT_CODE, ADDRESS_REFUSED_CODE})


def refusal_error(exc: OutboundRefused, who: str = "the provider") -> UpstreamError:
    if isinstance(exc, RedirectRefused):
        return upstream_error(
            502,
            f"{who} answered with a redirect ({exc.status}); tollway does not follow "
            "redirects: check the provider's base URL",
            code=REDIRECT_CODE,
        )
    reason = exc.reason.partition(" (")[0] if isinstance(exc, AddressRefused) else "not allowed"
    return upstream_error(
        502,
        f"tollway refused to connect to {who}: its address is {reason}",
        code=ADDRESS_REFUSED_CODE,
    )


def find_refusal(exc: BaseException) -> OutboundRefused | None:
    """The ``OutboundRefused`` somewhere in ``exc``'s cause chain (LiteLLM wraps it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        if isinstance(current, OutboundRefused):
            return current
        current = current.__cause__ or current.__context__
    return None
