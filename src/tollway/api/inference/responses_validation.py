"""The /v1/responses request fields tollway reads and OpenAI's schema requires,
checked before anything is admitted, routed or sent upstream.

Same rules as ``validation`` for chat: a 400 naming the ``param``, never quoting the
client's values; unknown fields pass through (providers have knobs of their own);
``max_output_tokens`` is admission's to check (``CompletionCaps``), since it decides
the reservation. ``input`` may be left out only when ``previous_response_id`` names
the conversation it continues.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tollway.api.inference.json_checks import (
    check_bool,
    check_list,
    check_nesting,
    check_number,
    check_object,
    check_string,
    wrong_type,
)
from tollway.api.inference.parsing import ParsedBody, json_object, refuse_forbidden
from tollway.api.inference.validation import check_model
from tollway.domain.v1_errors import invalid_request

MAX_METADATA_PAIRS = 16  # OpenAI's bound on ``metadata``
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512

Check = Callable[[Any, str], None]


def parse_responses_body(raw: bytes) -> ParsedBody:
    """The checked body of a /v1/responses request, without its ``model``."""
    body = json_object(raw)
    check_responses_request(body)
    model = body.pop("model")
    # The Responses API reports usage on its terminal event whatever the client asks.
    return ParsedBody(model=model, body=body, stream=body.get("stream") is True, wants_usage=True)


def check_responses_request(body: Mapping[str, Any]) -> None:
    """Raise a 400 naming the ``param`` of the first malformed field."""
    check_nesting(dict(body), frozenset(_RULES) | {"model"})
    refuse_forbidden(body)
    check_model(body.get("model"))
    if body.get("input") in (None, "", []) and body.get("previous_response_id") is None:
        raise invalid_request("Missing required parameter: 'input'.", "input")
    for name, check in _RULES.items():
        value = body.get(name)
        if value is not None:
            check(value, name)


def _input(value: Any, param: str) -> None:
    if isinstance(value, str):
        return
    check_list(value, param)
    for index, item in enumerate(value):
        where = f"{param}[{index}]"
        check_object(item, where)
        kind = item.get("type")
        if kind is not None:
            check_string(kind, f"{where}.type")
        if kind in (None, "message"):
            _message_item(item, where)
        elif kind == "function_call":
            for name in ("call_id", "name", "arguments"):
                check_string(item.get(name), f"{where}.{name}")
        elif kind == "function_call_output":
            check_string(item.get("call_id"), f"{where}.call_id")
            if not isinstance(item.get("output"), str | list):
                raise wrong_type(f"{where}.output", "a string or an array", item.get("output"))


def _message_item(item: Mapping[str, Any], where: str) -> None:
    check_string(item.get("role"), f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return
    check_list(content, f"{where}.content")
    for index, part in enumerate(content if isinstance(content, list) else []):
        part_where = f"{where}.content[{index}]"
        check_object(part, part_where)
        check_string(part.get("type"), f"{part_where}.type")


def _tools(value: Any, param: str) -> None:
    check_list(value, param)
    for index, tool in enumerate(value):
        where = f"{param}[{index}]"
        check_object(tool, where)
        check_string(tool.get("type"), f"{where}.type")
        if tool["type"] == "function":
            check_string(tool.get("name"), f"{where}.name")
            if tool.get("parameters") is not None:
                check_object(tool["parameters"], f"{where}.parameters")


def _tool_choice(value: Any, param: str) -> None:
    if isinstance(value, str):
        return
    check_object(value, param)
    check_string(value.get("type"), f"{param}.type")


def _text(value: Any, param: str) -> None:
    check_object(value, param)
    fmt = value.get("format")
    if fmt is None:
        return
    check_object(fmt, f"{param}.format")
    check_string(fmt.get("type"), f"{param}.format.type")
    if fmt["type"] == "json_schema":
        check_string(fmt.get("name"), f"{param}.format.name")
        check_object(fmt.get("schema"), f"{param}.format.schema")


def _metadata(value: Any, param: str) -> None:
    check_object(value, param)
    if len(value) > MAX_METADATA_PAIRS:
        raise invalid_request(
            f"Invalid '{param}': at most {MAX_METADATA_PAIRS} key-value pairs.", param
        )
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY_CHARS:
            raise invalid_request(
                f"Invalid '{param}': keys are at most {MAX_METADATA_KEY_CHARS} characters.", param
            )
        if not isinstance(item, str):
            raise invalid_request(f"Invalid '{param}': values must be strings.", param)
        if len(item) > MAX_METADATA_VALUE_CHARS:
            raise invalid_request(
                f"Invalid '{param}': values are at most {MAX_METADATA_VALUE_CHARS} characters.",
                param,
            )


def _range(low: float, high: float) -> Check:
    def check(value: Any, param: str) -> None:
        check_number(value, param, low, high)

    return check


_RULES: Mapping[str, Check] = {
    "input": _input,
    "instructions": check_string,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": check_bool,
    "text": _text,
    "reasoning": check_object,
    "metadata": _metadata,
    "store": check_bool,
    "previous_response_id": check_string,
    "stream": check_bool,
    "stream_options": check_object,
    "temperature": _range(0, 2),
    "top_p": _range(0, 1),
    "user": check_string,
}
