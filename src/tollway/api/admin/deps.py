"""Request-scoped access to the services and the admin credential check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tollway.api.app_state import app_runtime
from tollway.domain.common import Actor
from tollway.domain.services import Services
from tollway.errors import AuthenticationError

_bearer = HTTPBearer(auto_error=False, description="The admin token.")


def get_services(request: Request) -> Services:
    return app_runtime(request.app).services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_admin(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or not services.admin_tokens.is_valid(credentials.credentials):
        raise AuthenticationError(
            "missing or invalid admin token; send 'Authorization: Bearer <admin token>'"
        )
    return Actor("admin")


AdminActor = Annotated[Actor, Depends(require_admin)]
