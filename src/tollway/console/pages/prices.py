"""Prices per provider and model (a placeholder until its page is built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn

router = APIRouter()


@router.get("/prices", name="prices")
def prices_page(console: SignedIn) -> Response:
    return console.render("prices.html", title="Prices")
