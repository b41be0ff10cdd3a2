"""The page API as a page uses it: a form post with its CSRF token and a field, a
re-render with the error next to the field (422), and Post/Redirect/Get with a flash."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import FastAPI, Form
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response
from starlette.routing import Mount

from tests.console.conftest import csrf_of, sign_in
from tollway.app import create_app
from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.forms import NO_ERRORS, FormErrors, form_errors
from tollway.errors import TollwayError
from tollway.settings import Settings

TEMPLATE = """{% extends "base.html" %}{% import "_forms.html" as forms %}
{% block content %}<h1>Widgets</h1>{{ forms.error_summary(errors) }}
<form method="post" action="{{ path_for('test_widgets_create') }}">{{ forms.csrf(csrf_token) }}
{{ forms.input('name', 'Name', value=name, error=errors.get('name')) }}
<button type="submit">Create</button></form>{% endblock %}"""


class WidgetCreate(BaseModel):
    name: str = Field(min_length=3)


def _page(console: ConsoleContext, errors: FormErrors = NO_ERRORS, name: str = "") -> Response:
    context = {"errors": errors, "name": name}
    return console.render("widgets_test.html", context, title="Widgets", status=errors.status)


def show(console: SignedIn) -> Response:
    return _page(console)


def create(console: SignedIn, name: Annotated[str, Form()] = "") -> Response:
    try:
        body = WidgetCreate(name=name)
    except (ValidationError, TollwayError) as exc:
        return _page(console, form_errors(exc), name)
    return console.redirect("test_widgets", flash=f"Widget {body.name} created.")


@pytest.fixture
def widgets(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(settings)
    [mount] = [r for r in app.routes if isinstance(r, Mount) and r.name == "console"]
    console = mount.app
    assert isinstance(console, FastAPI)
    (tmp_path / "widgets_test.html").write_text(TEMPLATE)
    console.state.console.templates.env.loader.searchpath.append(str(tmp_path))
    console.add_api_route("/test-widgets", show, methods=["GET"], name="test_widgets")
    console.add_api_route("/test-widgets", create, methods=["POST"], name="test_widgets_create")
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        sign_in(client)
        yield client


def test_a_form_error_is_shown_next_to_its_field(widgets: TestClient) -> None:
    form = widgets.get("/console/test-widgets")
    assert 'action="/console/test-widgets"' in form.text
    answer = widgets.post(
        "/console/test-widgets", data={"csrf_token": csrf_of(form.text), "name": "ab"}
    )
    assert answer.status_code == 422
    assert 'aria-invalid="true"' in answer.text
    assert 'id="name-error"' in answer.text
    assert 'value="ab"' in answer.text
    assert 'class="error-summary" role="alert"' in answer.text


def test_post_redirect_get_shows_the_flash_once(widgets: TestClient) -> None:
    token = csrf_of(widgets.get("/console/test-widgets").text)
    answer = widgets.post("/console/test-widgets", data={"csrf_token": token, "name": "gizmo"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/test-widgets"
    shown = widgets.get("/console/test-widgets").text
    assert '<p class="flash flash-info">Widget gizmo created.</p>' in shown
    assert "Widget gizmo created." not in widgets.get("/console/test-widgets").text


def test_the_form_post_needs_its_csrf_token(widgets: TestClient) -> None:
    answer = widgets.post("/console/test-widgets", data={"name": "gizmo"})
    assert answer.status_code == 403
