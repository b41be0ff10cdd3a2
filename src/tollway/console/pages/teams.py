"""Teams and tollway keys (a placeholder until its page is built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn

router = APIRouter()


@router.get("/teams", name="teams")
def teams_page(console: SignedIn) -> Response:
    return console.render("teams.html", title="Teams & keys")
