"""Provider names reach headers as plain ASCII or an RFC 8187 ext-value, never raw."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from tollway.api.inference.response_headers import (
    EXT_VALUE_PREFIX,
    RequestIds,
    header_text,
    new_request_id,
)

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


def test_request_ids_look_like_uuid4_hex_and_never_repeat() -> None:
    ids = RequestIds()
    made = [ids() for _ in range(1000)]  # several batches of random bytes
    assert all(len(made_id) == 32 and int(made_id, 16) >= 0 for made_id in made)
    assert len(set(made)) == len(made)
    assert len(new_request_id()) == 32
