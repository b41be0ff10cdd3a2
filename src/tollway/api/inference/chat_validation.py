"""Chat ``messages`` and ``tools`` as OpenAI's schema defines them.

Each message is an object with a known ``role``; its ``content`` is a string or a
non-empty array of part objects, and may be null (or absent) only where OpenAI
allows it: on assistant messages (which may carry only tool calls) and on the
deprecated function messages. Tool messages name the call they answer; function
messages name the function.
"""

from __future__ import annotations

from typing import Any

from tollway.api.inference.json_checks import (
    check_list,
    check_object,
    check_string,
    wrong_type,
)
from tollway.domain.v1_errors import invalid_request

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_NULL_CONTENT_ALLOWED = frozenset({"assistant", "function"})
_REQUIRED_STRINGS = {"tool": ("tool_call_id",), "function": ("name",)}


def check_messages(value: Any, param: str) -> None:
    check_list(value, param, non_empty=True)
    for index, message in enumerate(value):
        _check_message(message, f"{param}[{index}]")


def _check_message(message: Any, param: str) -> None:
    check_object(message, param)
    role = message.get("role")
    if role not in ROLES:
        if not isinstance(role, str):
            raise wrong_type(f"{param}.role", "a string", role)
        supported = ", ".join(f"'{r}'" for r in ROLES)
        raise invalid_request(
            f"Invalid value for '{param}.role'. Supported values are: {supported}.",
            f"{param}.role",
        )
    _check_content(message.get("content"), f"{param}.content", role)
    if message.get("name") is not None:
        check_string(message["name"], f"{param}.name")
    for required in _REQUIRED_STRINGS.get(role, ()):
        check_string(message.get(required), f"{param}.{required}")
    if role == "assistant" and message.get("tool_calls") is not None:
        _check_tool_calls(message["tool_calls"], f"{param}.tool_calls")


def _check_content(content: Any, param: str, role: str) -> None:
    if isinstance(content, str):
        return
    if content is None:
        if role in _NULL_CONTENT_ALLOWED:
            return
        raise invalid_request(f"Missing required parameter: '{param}'.", param)
    if not isinstance(content, list):
        raise wrong_type(param, "a string or an array of content parts", content)
    check_list(content, param, non_empty=True)
    for index, part in enumerate(content):
        _check_part(part, f"{param}[{index}]")


def _check_part(part: Any, param: str) -> None:
    check_object(part, param)
    kind = part.get("type")
    check_string(kind, f"{param}.type")
    if kind == "text":
        check_string(part.get("text"), f"{param}.text")
    elif kind == "image_url":
        image = part.get("image_url")
        if not isinstance(image, str):  # a bare URL string: accepted by LiteLLM too
            check_object(image, f"{param}.image_url")
            check_string(image.get("url"), f"{param}.image_url.url")


def _check_tool_calls(value: Any, param: str) -> None:
    check_list(value, param)
    for index, call in enumerate(value):
        where = f"{param}[{index}]"
        check_object(call, where)
        function = call.get("function")
        if function is not None:
            check_object(function, f"{where}.function")
            check_string(function.get("name"), f"{where}.function.name")
            if function.get("arguments") is not None:
                check_string(function["arguments"], f"{where}.function.arguments")


def check_tools(value: Any, param: str) -> None:
    """``tools`` (and the deprecated ``functions``): objects; a function has a name."""
    check_list(value, param)
    for index, tool in enumerate(value):
        where = f"{param}[{index}]"
        check_object(tool, where)
        if param == "functions":
            check_string(tool.get("name"), f"{where}.name")
            continue
        if tool.get("type") is not None:
            check_string(tool["type"], f"{where}.type")
        function = tool.get("function")
        if function is not None or tool.get("type") == "function":
            check_object(function, f"{where}.function")
            check_string(function.get("name"), f"{where}.function.name")
            if function.get("parameters") is not None:
                check_object(function["parameters"], f"{where}.function.parameters")
