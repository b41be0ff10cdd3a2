"""The page API's form helpers: errors from pydantic and the domain, and the macros
that show them next to their fields."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError, field_validator

from tollway.console.forms import NO_ERRORS, FormErrors, form_errors
from tollway.console.rendering import build_templates
from tollway.errors import ConflictError, NotFoundError


class Widget(BaseModel):
    name: str = Field(min_length=1)
    size: int = Field(ge=1)

    @field_validator("name")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        if " " in value:
            raise ValueError("no spaces, please")
        return value


def test_a_validation_error_names_each_field_without_echoing_the_input() -> None:
    with pytest.raises(ValidationError) as info:
        Widget(name="sk-secret value", size=0)
    errors = form_errors(info.value)
    assert errors.status == 422
    assert errors.get("name") == "no spaces, please"
    assert errors.get("size") is not None
    assert len(errors.summary) == 2
    assert "sk-secret" not in repr(errors)


def test_a_domain_error_is_a_summary_with_its_status() -> None:
    errors = form_errors(ConflictError("a provider named 'p' exists", details={"field": "name"}))
    assert errors.status == 409
    assert errors.summary == ["a provider named 'p' exists"]
    assert errors.get("name") == "invalid value"
    assert form_errors(NotFoundError("gone")).fields == {}
    assert not NO_ERRORS


def _render(source: str, **context: Any) -> str:
    environment = build_templates().env
    template = environment.from_string('{% import "_forms.html" as forms %}' + source)
    return template.render(**context)


def test_the_input_macro_puts_the_error_next_to_its_labelled_field() -> None:
    errors = FormErrors(fields={"name": "too short"}, summary=["name: too short"])
    html = _render(
        "{{ forms.error_summary(errors) }}"
        "{{ forms.input('name', 'Name', value='a', error=errors.get('name'), help='Shown') }}",
        errors=errors,
    )
    assert 'role="alert"' in html
    assert '<label for="name">Name</label>' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="name-help name-error"' in html
    assert '<p class="field-error" id="name-error">too short</p>' in html


def test_password_fields_are_never_filled_and_values_are_escaped() -> None:
    html = _render("{{ forms.input('token', 'Token', value='sk-x', type='password') }}")
    assert "sk-x" not in html
    html = _render("{{ forms.input('n', 'N', value=v) }}", v='"><script>')
    assert "<script>" not in html


def test_select_checkbox_and_tables() -> None:
    html = _render(
        "{{ forms.select('kind', 'Kind', [('a', 'A'), ('b', 'B')], selected='b') }}"
        "{{ forms.checkbox('on', 'Enabled', checked=true) }}"
        "{{ forms.table(['X', 'Y'], [['1', '<b>']], caption='Rows') }}"
        "{{ forms.table(['X'], [], empty='None yet') }}"
        "{% call forms.table(['Z']) %}<tr><td>z</td></tr>{% endcall %}"
        "{{ forms.post_button('/console/x', 'Delete', 't', confirm='Sure?') }}"
    )
    assert '<option value="b" selected>B</option>' in html
    assert 'type="checkbox" value="true" checked' in html
    assert "<caption>Rows</caption>" in html
    assert "&lt;b&gt;" in html
    assert "None yet" in html
    assert "<tr><td>z</td></tr>" in html
    assert 'data-confirm="Sure?"' in html
    assert 'name="csrf_token" value="t"' in html
