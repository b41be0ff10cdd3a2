"""Provider keys: add, rotate, disable (a placeholder until its page is built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn

router = APIRouter()


@router.get("/provider-keys", name="provider_keys")
def provider_keys_page(console: SignedIn) -> Response:
    return console.render("provider_keys.html", title="Provider keys")
