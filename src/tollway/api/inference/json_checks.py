"""Small checks on decoded JSON values, each raising a 400 naming the ``param`` at fault.

JSON has one number type; Python's ``bool`` is an ``int``. So ``true`` is not a
number here, and ``2.0`` is not an integer (a float cap or seed is a client bug that
providers answer differently).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from tollway.domain.v1_errors import invalid_request
from tollway.errors import InferenceError

# Deeper than any real tool schema or content array; far below the interpreter's
# recursion limit, which LiteLLM's and the estimator's recursive walks would hit.
MAX_JSON_DEPTH = 64


_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "an unsupported value")


def wrong_type(param: str, expected: str, value: Any) -> InferenceError:
    return invalid_request(
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param,
    )


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def check_bool(value: Any, param: str) -> None:
    if not isinstance(value, bool):
        raise wrong_type(param, "a boolean", value)


def check_string(value: Any, param: str) -> None:
    if not isinstance(value, str):
        raise wrong_type(param, "a string", value)


def check_object(value: Any, param: str) -> None:
    if not isinstance(value, dict):
        raise wrong_type(param, "an object", value)


def check_list(value: Any, param: str, *, non_empty: bool = False) -> None:
    if not isinstance(value, list):
        raise wrong_type(param, "an array", value)
    if non_empty and not value:
        raise invalid_request(
            f"Invalid '{param}': empty array. Expected an array with at least 1 item.", param
        )


def check_number(value: Any, param: str, low: float, high: float) -> None:
    if not is_number(value):
        raise wrong_type(param, "a number", value)
    if not low <= value <= high:
        raise invalid_request(f"Invalid '{param}': must be between {low} and {high}.", param)


def check_int(value: Any, param: str, low: int, high: int) -> None:
    if not is_int(value):
        raise wrong_type(param, "an integer", value)
    if not low <= value <= high:
        raise invalid_request(f"Invalid '{param}': must be between {low} and {high}.", param)


def check_string_or_strings(value: Any, param: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise wrong_type(param, "a string or an array of strings", value)
    for index, item in enumerate(value):
        check_string(item, f"{param}[{index}]")


def check_nesting(
    body: dict[str, Any], known: Collection[str], limit: int = MAX_JSON_DEPTH
) -> None:
    """Refuse JSON nested deeper than ``limit`` arrays and objects, without recursing.

    orjson decodes up to 1,024 levels; the recursive walks after it (LiteLLM's
    transformations, ``str()`` of a value) exhaust Python's stack well before that.
    Only ``known`` field names are quoted back: any other key is the client's text."""
    for name, value in body.items():
        if isinstance(value, dict | list) and _deeper_than(value, limit):
            if name in known:
                raise invalid_request(f"'{name}' is nested deeper than {limit} levels.", name)
            raise invalid_request(f"A field is nested deeper than {limit} levels.")


def _deeper_than(value: dict[str, Any] | list[Any], limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        items = current.values() if isinstance(current, dict) else current
        stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
    return False
