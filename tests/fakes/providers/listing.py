"""Model lists as the real APIs send them: scripted errors, delays and paging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from tests.fakes.providers.scripting import ListingScript

if TYPE_CHECKING:
    from tests.fakes.providers.base import FamilyRouter

Entries = Sequence[Mapping[str, Any]]


def script_for(router: FamilyRouter, request: Request) -> ListingScript:
    key = router.key_of(request.headers, request.query_params)
    return router.gate.server.listing_script(key)


async def scripted_answer(router: FamilyRouter, script: ListingScript) -> Response | None:
    """The script's error, redirect or raw body; None: answer the list."""
    await router.gate.server.pause(script.delay)
    if script.status is not None:
        if 300 <= script.status < 400:
            return Response(status_code=script.status, headers={"location": script.location or "/"})
        return router.error(script.status, None, script.retry_after)
    if script.raw_body is not None:
        return Response(script.raw_body, media_type="application/json")
    return None


def entries_for(script: ListingScript, defaults: Entries) -> list[Mapping[str, Any]]:
    return list(script.entries if script.entries is not None else defaults)


def page_of(
    entries: list[Mapping[str, Any]],
    start: int,
    asked: str | None,
    default_size: int,
    script: ListingScript,
) -> tuple[list[Mapping[str, Any]], int | None]:
    """Entries ``start``… of one page and where the next starts (None: the last page)."""
    size = int(asked) if asked and asked.isdigit() and int(asked) > 0 else default_size
    if script.page_size is not None:
        size = min(size, script.page_size)
    end = start + size
    return entries[start:end], (end if end < len(entries) else None)


def offset_token(token: str | None) -> int:
    """Gemini's and Cohere's opaque page tokens, here ``page-<offset>``."""
    if token and token.startswith("page-") and token[5:].isdigit():
        return int(token[5:])
    return 0
