"""Model catalog: what each provider lists (a placeholder until its page is built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn

router = APIRouter()


@router.get("/catalog", name="catalog")
def catalog_page(console: SignedIn) -> Response:
    return console.render("catalog.html", title="Model catalog")
