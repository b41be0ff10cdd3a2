"""The Anthropic Messages request fields tollway reads and Anthropic's API requires,
checked before anything is admitted, routed or sent upstream.

As for OpenAI's endpoints (``validation``): a malformed field is a 400 naming it,
never quoting its value; unknown fields pass through (providers add knobs);
``max_tokens`` must be present, and admission's ``CompletionCaps`` checks it is a
positive integer (it decides the reservation). ``count_tokens`` takes the same body
without ``max_tokens``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tollway.api.inference.json_checks import (
    check_bool,
    check_int,
    check_list,
    check_nesting,
    check_number,
    check_object,
    check_string,
    wrong_type,
)
from tollway.api.inference.parsing import ParsedBody, json_object
from tollway.api.inference.validation import MAX_MODEL_CHARS
from tollway.domain.v1_errors import invalid_request

Check = Callable[[Any, str], None]

# tollway chooses the provider and its credentials; a client must not override them.
FORBIDDEN_FIELDS = frozenset(
    {
        "api_key",
        "api_base",
        "base_url",
        "api_version",
        "custom_llm_provider",
        "extra_headers",
        "mock_response",
        "user_api_key",
    }
)
_ROLES = frozenset({"user", "assistant"})
_TOOL_CHOICES = frozenset({"auto", "any", "tool", "none"})


def parse_messages_body(raw: bytes, *, needs_max_tokens: bool = True) -> ParsedBody:
    """The checked Messages body (``model`` taken out), or a 400 naming the field."""
    body = json_object(raw)
    check_messages_request(body, needs_max_tokens=needs_max_tokens)
    model = body.pop("model")
    return ParsedBody(model=model, body=body, stream=body.get("stream") is True, wants_usage=True)


def check_messages_request(body: Mapping[str, Any], *, needs_max_tokens: bool) -> None:
    check_nesting(dict(body), frozenset(_RULES) | {"model", "max_tokens"})
    forbidden = sorted(FORBIDDEN_FIELDS.intersection(body))
    if forbidden:
        raise invalid_request(
            f"{forbidden[0]}: Extra inputs are not permitted. tollway chooses the provider "
            "and its credentials.",
            forbidden[0],
        )
    _check_model(body.get("model"))
    if needs_max_tokens and body.get("max_tokens") is None:
        raise invalid_request("max_tokens: Field required", "max_tokens")
    if body.get("messages") is None:
        raise invalid_request("messages: Field required", "messages")
    for name, check in _RULES.items():
        value = body.get(name)
        if value is not None:
            check(value, name)


def _check_model(model: Any) -> None:
    if not isinstance(model, str) or not model.strip():
        raise invalid_request("model: Field required", "model")
    if len(model) > MAX_MODEL_CHARS:
        raise invalid_request(f"model: longer than {MAX_MODEL_CHARS} characters", "model")


def _messages(value: Any, param: str) -> None:
    check_list(value, param, non_empty=True)
    for index, message in enumerate(value):
        where = f"{param}[{index}]"
        check_object(message, where)
        role = message.get("role")
        check_string(role, f"{where}.role")
        if role not in _ROLES:
            raise invalid_request(
                f"{where}.role: Input should be 'user' or 'assistant'", f"{where}.role"
            )
        content = message.get("content")
        if content is None:
            raise invalid_request(f"{where}.content: Field required", f"{where}.content")
        _content(content, f"{where}.content")


def _content(value: Any, param: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise wrong_type(param, "a string or an array of content blocks", value)
    for index, block in enumerate(value):
        _block(block, f"{param}[{index}]")


def _block(block: Any, param: str) -> None:
    check_object(block, param)
    kind = block.get("type")
    if kind is None:
        raise invalid_request(f"{param}.type: Field required", f"{param}.type")
    check_string(kind, f"{param}.type")
    if kind == "text":
        check_string(block.get("text"), f"{param}.text")
    elif kind == "tool_use":
        check_string(block.get("id"), f"{param}.id")
        check_string(block.get("name"), f"{param}.name")
        check_object(block.get("input"), f"{param}.input")
    elif kind == "tool_result":
        check_string(block.get("tool_use_id"), f"{param}.tool_use_id")
        if block.get("content") is not None:
            _content(block["content"], f"{param}.content")


def _system(value: Any, param: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise wrong_type(param, "a string or an array of text blocks", value)
    for index, block in enumerate(value):
        where = f"{param}[{index}]"
        check_object(block, where)
        if block.get("type") != "text":
            raise invalid_request(f"{where}.type: Input should be 'text'", f"{where}.type")
        check_string(block.get("text"), f"{where}.text")


def _stop_sequences(value: Any, param: str) -> None:
    check_list(value, param)
    for index, item in enumerate(value):
        check_string(item, f"{param}[{index}]")


def _tools(value: Any, param: str) -> None:
    check_list(value, param)
    for index, tool in enumerate(value):
        where = f"{param}[{index}]"
        check_object(tool, where)
        check_string(tool.get("name"), f"{where}.name")
        # Client tools carry a schema; Anthropic's server tools (a versioned "type"
        # such as "web_search_20250305") do not.
        if tool.get("type") in (None, "custom"):
            check_object(tool.get("input_schema"), f"{where}.input_schema")


def _tool_choice(value: Any, param: str) -> None:
    check_object(value, param)
    kind = value.get("type")
    check_string(kind, f"{param}.type")
    if kind not in _TOOL_CHOICES:
        raise invalid_request(
            f"{param}.type: Input should be 'auto', 'any', 'tool' or 'none'", f"{param}.type"
        )
    if kind == "tool":
        check_string(value.get("name"), f"{param}.name")
    if value.get("disable_parallel_tool_use") is not None:
        check_bool(value["disable_parallel_tool_use"], f"{param}.disable_parallel_tool_use")


def _thinking(value: Any, param: str) -> None:
    check_object(value, param)
    kind = value.get("type")
    check_string(kind, f"{param}.type")
    if kind == "enabled":
        budget = value.get("budget_tokens")
        if budget is None:
            raise invalid_request(
                f"{param}.budget_tokens: Field required", f"{param}.budget_tokens"
            )
        check_int(budget, f"{param}.budget_tokens", 1, 2**31 - 1)
    elif kind != "disabled":
        raise invalid_request(
            f"{param}.type: Input should be 'enabled' or 'disabled'", f"{param}.type"
        )


def _range(low: float, high: float) -> Check:
    def check(value: Any, param: str) -> None:
        check_number(value, param, low, high)

    return check


def _top_k(value: Any, param: str) -> None:
    check_int(value, param, 0, 2**31 - 1)


_RULES: Mapping[str, Check] = {
    "messages": _messages,
    "system": _system,
    "stop_sequences": _stop_sequences,
    "temperature": _range(0, 1),
    "top_p": _range(0, 1),
    "top_k": _top_k,
    "stream": check_bool,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "thinking": _thinking,
    "metadata": check_object,
}
