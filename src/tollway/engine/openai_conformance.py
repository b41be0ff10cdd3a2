"""LiteLLM's translated answers, corrected where they break OpenAI's schema.

Where LiteLLM translates (Anthropic, Gemini, Cohere, and every family behind the
remote LiteLLM proxy) its stream and response wrappers emit fields OpenAI's schema
does not allow, and strict clients (typed SDKs, schema validators) trip on them:

- ``delta.role: null`` on every chunk after the first (``role`` is an enum, never null);
- tool-call fragments with ``id: null``, ``type: null``, ``function.name: null``
  (OpenAI sends those keys only on a call's first fragment);
- usage objects whose ``*_tokens_details`` hold ``null`` counts;
- a legacy completion's last chunk with ``text: null`` (``text`` is a string);
- ``refusal: ""`` in a delta, which the openai SDK reads as a refusal begun;
- ``system_fingerprint: null`` on every chunk (the schema's ``system_fingerprint`` is a
  string: absent, not null, when there is none);
- a complete answer's choice without ``logprobs`` and its message without ``refusal``
  (both required, both nullable: restored as ``null``, which says "none", never content);
- a complete answer that called tools but ends with ``finish_reason: "stop"`` (LiteLLM's
  Cohere translation never reads Cohere's ``TOOL_CALL``; the others map theirs to
  ``tool_calls``, which is what OpenAI's schema documents for a turn that called tools).

``conform`` removes or restores exactly these, in place, on any chat or completions
body or chunk; ``wire.clean_openai`` applies it to everything LiteLLM translated, so
it is applied in one place. (A LiteLLM proxy serializes its answers without nulls,
so behind the remote engine only ``text: null`` and ``refusal: ""`` can remain; the
proxy also drops the upstream's own nulls, which nothing here can restore.) The
pass-through (``engine.passthrough``) is never corrected: what the upstream sent is
what the client gets. What LiteLLM loses cannot be restored: a streamed ``n>1``
answer from a translated family keeps what LiteLLM gave.
"""

from __future__ import annotations

from typing import Any

_FRAGMENT_KEYS = ("id", "type")
# A complete answer's message keys the schema requires, null meaning "none".
_REQUIRED_NULLABLE = ("content", "refusal")


def conform(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` (a chat or completions body or chunk) with LiteLLM's schema breaks fixed."""
    choices = obj.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict):
                _conform_choice(choice)
    usage = obj.get("usage")
    if isinstance(usage, dict):
        _drop_null_details(usage)
    if "system_fingerprint" in obj and obj["system_fingerprint"] is None:
        del obj["system_fingerprint"]
    return obj


def _conform_choice(choice: dict[str, Any]) -> None:
    if "text" in choice and choice["text"] is None:
        choice["text"] = ""
    message = choice.get("message")
    if isinstance(message, dict):
        _conform_answer(choice, message)
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return
    if "role" in delta and delta["role"] is None:
        del delta["role"]
    if delta.get("refusal") == "":
        del delta["refusal"]
    calls = delta.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            if isinstance(call, dict):
                _conform_fragment(call)


def _conform_answer(choice: dict[str, Any], message: dict[str, Any]) -> None:
    """A complete answer's choice: its required nullable keys present, and a turn that
    called tools said to end for them."""
    choice.setdefault("logprobs", None)
    for key in _REQUIRED_NULLABLE:
        message.setdefault(key, None)
    if choice.get("finish_reason") == "stop" and message.get("tool_calls"):
        choice["finish_reason"] = "tool_calls"


def _conform_fragment(call: dict[str, Any]) -> None:
    for key in _FRAGMENT_KEYS:
        if key in call and call[key] is None:
            del call[key]
    function = call.get("function")
    if isinstance(function, dict) and "name" in function and function["name"] is None:
        del function["name"]


def _drop_null_details(usage: dict[str, Any]) -> None:
    for name, value in list(usage.items()):
        if value is None and name.endswith("_details"):
            del usage[name]
        elif isinstance(value, dict) and name.endswith("_details"):
            for key in [key for key, count in value.items() if count is None]:
                del value[key]
