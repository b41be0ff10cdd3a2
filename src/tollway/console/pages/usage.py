"""Usage reports from the hourly aggregates (a placeholder until its page is built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn

router = APIRouter()


@router.get("/usage", name="usage")
def usage_page(console: SignedIn) -> Response:
    return console.render("usage.html", title="Usage")
