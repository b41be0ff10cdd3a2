"""Home: how tollway is doing (filled in after the skeleton)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn

router = APIRouter()


@router.get("/", name="home")
def home_page(console: SignedIn) -> Response:
    return console.render("home.html", title="Home")
