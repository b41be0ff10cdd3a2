"""Templates and how a console page is rendered.

Templates come from ``templates/`` (the layout, macros, sign-in and error pages) and
``pages/`` (each page's own template beside its module). Autoescaping is on; templates
get ``path_for(name, **params)``, the path of a console route under the root path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from tollway.domain.console_sessions import Flash

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
PAGES = PACKAGE / "pages"
STATIC = PACKAGE / "static"


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    route: str  # a console route name, e.g. "providers"


NAV = (
    NavItem("Home", "home"),
    NavItem("Providers", "providers"),
    NavItem("Models", "models"),
    NavItem("Teams & keys", "teams"),
    NavItem("Limits", "limits"),
    NavItem("Prices", "prices"),
    NavItem("Usage", "usage"),
    NavItem("Audit", "audit"),
)


def path_for(request: Request, name: str, **params: Any) -> str:
    """The path (under the root path) of the console route ``name``: links, form
    actions and redirects use this, never a hand-written ``/console/…``."""
    return request.url_for(f"console:{name}", **params).path


@pass_context
def _path_for(context: Context, name: str, **params: Any) -> str:
    return path_for(context["request"], name, **params)


def build_templates() -> Jinja2Templates:
    environment = Environment(
        loader=FileSystemLoader([TEMPLATES, PAGES]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["path_for"] = _path_for
    environment.globals["nav"] = NAV
    return Jinja2Templates(env=environment)


def render_template(
    templates: Jinja2Templates,
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    title: str,
    status: int = 200,
    csrf_token: str | None = None,
    flashes: list[Flash] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """``template`` rendered in the layout's frame. ``csrf_token`` is None on pages
    without a session (sign-in, errors): they show no navigation or sign-out."""
    full = {
        "title": title,
        "csrf_token": csrf_token,
        "signed_in": csrf_token is not None,
        "flashes": flashes or [],
        "current_path": request.url.path,
        **context,
    }
    response = templates.TemplateResponse(
        request, template, full, status_code=status, headers=dict(headers or {})
    )
    assert isinstance(response, HTMLResponse)
    return response
