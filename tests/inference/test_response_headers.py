"""Provider names reach headers as plain ASCII or an RFC 8187 ext-value, never raw."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from tollway.api.inference.response_headers import EXT_VALUE_PREFIX, header_text

NAMES = [
    "OpenAI",
    "Acme \u2013 EU",
    "中文供应商",
    "evil\r\nset-cookie: x=1",
    "nul\x00",
    " padded ",
    "UTF-8''plain",
    "percent%20sign",
    "",
]


def decode(value: str) -> str:
    return (
        unquote(value.removeprefix(EXT_VALUE_PREFIX))
        if value.startswith(EXT_VALUE_PREFIX)
        else value
    )


@pytest.mark.parametrize("name", NAMES)
def test_any_name_is_a_safe_header_value_that_decodes_back(name: str) -> None:
    value = header_text(name)
    assert value.isascii()
    assert all(0x20 <= ord(char) < 0x7F for char in value)
    assert value == value.strip()
    assert decode(value) == name


def test_plain_names_are_left_alone() -> None:
    assert header_text("OpenAI (EU) #2") == "OpenAI (EU) #2"
