"""Models: publish, edit, verify (a placeholder until its page is built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn

router = APIRouter()


@router.get("/models", name="models")
def models_page(console: SignedIn) -> Response:
    return console.render("models.html", title="Models")
