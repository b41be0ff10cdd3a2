"""OpenAI's Responses API (``POST /v1/responses``) as OpenAI and OpenRouter serve it,
and the fakes' one tool rule, shared with chat.

The tool rule: when a request offers function tools and the last user text starts
with ``use the tool``, the fake calls the first function tool, each of its declared
properties set to ``"<name>-1"``. When the last input is a tool's result, the reply
is ``tool said: <result>``. That is enough for a client's tool loop to run.

Streams are typed events (``event: <type>`` / ``data: <json>``, with
``sequence_number``), ending with ``response.completed``; no ``[DONE]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from tests.fakes.providers.base import Prompt, StreamPlan, Turn
from tests.fakes.providers.wire import count_tokens, dicts, sse, text_of

TOOL_TRIGGER = "use the tool"

UsageOf = Callable[[Turn], dict[str, Any]]


# -- the tool rule -----------------------------------------------------------------------


def tool_arguments(parameters: Any) -> str:
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    names = list(properties) if isinstance(properties, dict) else []
    return json.dumps({name: f"{name}-1" for name in names})


def planned_tool(tools: Any, last_user_text: str) -> tuple[str, str] | None:
    """(name, arguments) of the call the fake makes, None when it just replies."""
    if not last_user_text.startswith(TOOL_TRIGGER):
        return None
    for tool in dicts(tools):
        nested = tool.get("function")
        function: Mapping[str, Any] = nested if isinstance(nested, dict) else tool
        if tool.get("type") == "function" and isinstance(function.get("name"), str):
            return function["name"], tool_arguments(function.get("parameters"))
    return None


# -- requests ----------------------------------------------------------------------------


def responses_prompt(body: Mapping[str, Any]) -> Prompt:
    raw = body.get("input")
    items: list[Mapping[str, Any]] = (
        [{"role": "user", "content": raw}] if isinstance(raw, str) else dicts(raw)
    )
    texts = [str(body.get("instructions") or "")]
    text = ""
    for item in items:
        if item.get("type") == "function_call_output":
            text = f"tool said: {item.get('output')}"
        elif item.get("role") == "user":
            text = text_of(item.get("content"))
        texts.append(text_of(item.get("content")))
    return Prompt(text, sum(count_tokens(t) for t in texts))


def responses_tool_call(turn: Turn) -> tuple[str, str] | None:
    raw = turn.body.get("input")
    last = dicts(raw)[-1:] if isinstance(raw, list) else [{"role": "user", "content": raw}]
    if not last or last[0].get("role") != "user":
        return None
    return planned_tool(turn.body.get("tools"), text_of(last[0].get("content")))


# -- answers -----------------------------------------------------------------------------


def responses_usage(turn: Turn) -> dict[str, Any]:
    prompt, completion = turn.prompt_tokens, turn.completion_tokens
    return {
        "input_tokens": prompt,
        # OpenAI's published schema requires both counts.
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def output_items(turn: Turn, item_id: str) -> list[dict[str, Any]]:
    call = responses_tool_call(turn)
    if call is not None:
        name, arguments = call
        return [
            {
                "type": "function_call",
                "id": "fc_" + item_id,
                "call_id": "call_" + item_id,
                "name": name,
                "arguments": arguments,
                "status": "completed",
            }
        ]
    text = {"type": "output_text", "text": turn.reply, "annotations": [], "logprobs": []}
    return [
        {
            "type": "message",
            "id": "msg_" + item_id,
            "status": "completed",
            "role": "assistant",
            "content": [text],
        }
    ]


def response_object(turn: Turn, usage: UsageOf, id_prefix: str = "resp_") -> dict[str, Any]:
    body = turn.body
    return {
        "id": id_prefix + turn.id,
        "object": "response",
        "created_at": turn.created,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": turn.model,
        "output": output_items(turn, turn.id),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage(turn) if turn.with_usage else None,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def response_stream(turn: Turn, usage: UsageOf, id_prefix: str = "resp_") -> StreamPlan:
    done = response_object(turn, usage, id_prefix)
    started = done | {"status": "in_progress", "output": [], "usage": None}
    counter = iter(range(1_000_000))

    def event(kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": next(counter), **fields}
        return sse(data, event=kind)

    head = [
        event("response.created", response=started),
        event("response.in_progress", response=started),
    ]
    item = done["output"][0]
    if item["type"] == "function_call":
        args = item["arguments"]
        added = item | {"arguments": "", "status": "in_progress"}
        where = {"item_id": item["id"], "output_index": 0}
        head.append(event("response.output_item.added", output_index=0, item=added))
        deltas = [event("response.function_call_arguments.delta", **where, delta=args)]
        tail = [event("response.function_call_arguments.done", **where, arguments=args)]
    else:
        part = item["content"][0]
        where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        empty = part | {"text": ""}
        added = item | {"status": "in_progress", "content": []}
        head.append(event("response.output_item.added", output_index=0, item=added))
        head.append(event("response.content_part.added", **where, part=empty))
        deltas = [
            event("response.output_text.delta", **where, delta=piece, logprobs=[])
            for piece in turn.pieces()
        ]
        tail = [
            event("response.output_text.done", **where, text=part["text"], logprobs=[]),
            event("response.content_part.done", **where, part=part),
        ]
    tail.append(event("response.output_item.done", output_index=0, item=item))
    tail.append(event("response.completed", response=done))
    return StreamPlan(head, deltas, tail)
