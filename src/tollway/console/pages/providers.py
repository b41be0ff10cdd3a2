"""Providers: the list, create, edit, test (a placeholder until its page is built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn

router = APIRouter()


@router.get("/providers", name="providers")
def providers_page(console: SignedIn) -> Response:
    return console.render("providers.html", title="Providers")
