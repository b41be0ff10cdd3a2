"""The /v1 request fields tollway reads and OpenAI's schema requires, checked before
anything is admitted, routed or sent upstream.

A request that fails here would fail at every deployment (or worse, crash inside
LiteLLM's translation and be retried, then sent to OpenRouter): it is a 400 naming
the ``param``, and nothing is billed. The rules follow OpenAI's published schema
(tests/inference/openai_schema/excerpt.json is the pinned excerpt they were taken
from, and a test keeps them in step). Unknown fields pass through untouched:
providers have knobs of their own. The completion caps (``max_tokens``,
``max_completion_tokens``, ``max_output_tokens``, ``n``, ``best_of``) are
admission's to check, since they decide the reservation.

Messages never quote the client's values: a key pasted into the wrong field must not
come back in an error body or a log line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tollway.api.inference.chat_validation import check_messages, check_tools
from tollway.api.inference.json_checks import (
    check_bool,
    check_int,
    check_number,
    check_object,
    check_string,
    check_string_or_strings,
    is_int,
)
from tollway.domain.v1_errors import invalid_request
from tollway.engine.base import Endpoint

MAX_MODEL_CHARS = 400  # the admin API's bound on a public model name
MAX_EMBEDDING_INPUTS = 2048

Check = Callable[[Any, str], None]


def check_request(body: Mapping[str, Any], endpoint: Endpoint) -> None:
    """Raise a 400 naming the ``param`` of the first malformed field."""
    check_model(body.get("model"))
    for name, check in _RULES[endpoint].items():
        value = body.get(name)
        if value is not None:
            check(value, name)


def known_fields(endpoint: Endpoint) -> frozenset[str]:
    """The fields these rules name: safe to quote back as a ``param``."""
    return _KNOWN[endpoint]


def check_model(model: Any) -> None:
    """A 400 for a missing, blank or overlong ``model``."""
    if not isinstance(model, str) or not model.strip():
        raise invalid_request("You must provide a model parameter.", "model")
    if len(model) > MAX_MODEL_CHARS:
        raise invalid_request(f"'model' is longer than {MAX_MODEL_CHARS} characters.", "model")


def _range(low: float, high: float) -> Check:
    def check(value: Any, param: str) -> None:
        check_number(value, param, low, high)

    return check


def _int_range(low: int, high: int) -> Check:
    def check(value: Any, param: str) -> None:
        check_int(value, param, low, high)

    return check


def _one_of(*allowed: str) -> Check:
    def check(value: Any, param: str) -> None:
        check_string(value, param)
        if value not in allowed:
            supported = ", ".join(f"'{v}'" for v in allowed)
            raise invalid_request(
                f"Invalid value for '{param}'. Supported values are: {supported}.", param
            )

    return check


def _stream_options(value: Any, param: str) -> None:
    check_object(value, param)
    for flag in ("include_usage", "include_obfuscation"):
        if value.get(flag) is not None:
            check_bool(value[flag], f"{param}.{flag}")


def _logit_bias(value: Any, param: str) -> None:
    check_object(value, param)
    for token, bias in value.items():
        # A token id is quoted back; any other key is the client's text, which is not.
        where = f"{param}.{token}" if token.isdigit() and len(token) <= 12 else param
        check_number(bias, where, -100, 100)


def _tool_choice(value: Any, param: str) -> None:
    if not isinstance(value, str):
        check_object(value, param)


def _response_format(value: Any, param: str) -> None:
    check_object(value, param)
    check_string(value.get("type"), f"{param}.type")


def _seed(value: Any, param: str) -> None:
    check_int(value, param, -(2**63), 2**63 - 1)


def _prompt(value: Any, param: str) -> None:
    """A string, strings, a token array or token arrays (OpenAI's four shapes)."""
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not value:
        raise invalid_request(
            f"Invalid type for '{param}': expected a string, an array of strings, "
            "an array of tokens or an array of token arrays.",
            param,
        )
    first = value[0]
    if isinstance(first, str):
        _each(value, param, check_string)
    elif isinstance(first, list):
        _each(value, param, _tokens)
    else:
        _tokens(value, param)


def _embedding_input(value: Any, param: str) -> None:
    _prompt(value, param)
    if isinstance(value, list) and len(value) > MAX_EMBEDDING_INPUTS:
        raise invalid_request(f"'{param}' holds more than {MAX_EMBEDDING_INPUTS} inputs.", param)


def _tokens(value: Any, param: str) -> None:
    if not isinstance(value, list) or not value:
        raise invalid_request(
            f"Invalid type for '{param}': expected a non-empty array of tokens.", param
        )
    for index, token in enumerate(value):
        if not is_int(token) or token < 0:
            raise invalid_request(
                f"Invalid type for '{param}[{index}]': expected a token (a non-negative integer).",
                f"{param}[{index}]",
            )


def _each(values: list[Any], param: str, check: Check) -> None:
    for index, value in enumerate(values):
        check(value, f"{param}[{index}]")


_SAMPLING: dict[str, Check] = {
    "stream": check_bool,
    "stream_options": _stream_options,
    "temperature": _range(0, 2),
    "top_p": _range(0, 1),
    "presence_penalty": _range(-2, 2),
    "frequency_penalty": _range(-2, 2),
    "seed": _seed,
    "stop": check_string_or_strings,
    "logit_bias": _logit_bias,
    "user": check_string,
}

_RULES: Mapping[Endpoint, Mapping[str, Check]] = {
    Endpoint.CHAT: {
        **_SAMPLING,
        "messages": check_messages,
        "tools": check_tools,
        "functions": check_tools,
        "tool_choice": _tool_choice,
        "parallel_tool_calls": check_bool,
        "response_format": _response_format,
        "logprobs": check_bool,
        "top_logprobs": _int_range(0, 20),
        "store": check_bool,
        "metadata": check_object,
        "reasoning_effort": check_string,
    },
    Endpoint.COMPLETIONS: {
        **_SAMPLING,
        "prompt": _prompt,
        "suffix": check_string,
        "echo": check_bool,
        "logprobs": _int_range(0, 5),
    },
    Endpoint.EMBEDDINGS: {
        "input": _embedding_input,
        "encoding_format": _one_of("float", "base64"),
        "dimensions": _int_range(1, 2**31 - 1),
        "user": check_string,
    },
}

# Built once: every request's nesting check reads its endpoint's set.
_KNOWN: Mapping[Endpoint, frozenset[str]] = {
    endpoint: frozenset(rules) | {"model"} for endpoint, rules in _RULES.items()
}
