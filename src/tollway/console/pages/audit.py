"""The audit trail (a placeholder until its page is built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn

router = APIRouter()


@router.get("/audit", name="audit")
def audit_page(console: SignedIn) -> Response:
    return console.render("audit.html", title="Audit")
