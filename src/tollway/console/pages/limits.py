"""Limits per key, team, provider and provider key (a placeholder until its page is built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn

router = APIRouter()


@router.get("/limits", name="limits")
def limits_page(console: SignedIn) -> Response:
    return console.render("limits.html", title="Limits")
