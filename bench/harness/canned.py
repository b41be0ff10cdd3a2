"""The canned upstream: one nginx serving every answer shape from fixed strings.

Each shape lives under its own path prefix, so one nginx serves them all and a
gateway picks JSON or a stream by the base URL it was given (a canned server cannot
read the request's ``stream`` flag):

  /oai-json/…              OpenAI chat completion (JSON)
  /oai-sse/…               OpenAI chat stream: role chunk, 18 content chunks, finish
                           chunk, usage chunk, [DONE]
  /oai-json/…/responses    OpenAI Responses object
  /oai-sse/…/responses     OpenAI Responses typed-event stream
  /anth-json/…             Anthropic Messages object
  /anth-sse/…              Anthropic Messages stream (message_start … message_stop)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WORDS = [f"w{i} " for i in range(18)]
_USAGE_OAI = {"prompt_tokens": 5, "completion_tokens": 18, "total_tokens": 23}


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _data(value: object) -> str:
    return f"data: {_compact(value)}\n\n"


def _event(name: str, value: object) -> str:
    return f"event: {name}\ndata: {_compact(value)}\n\n"


def chat_json() -> str:
    return _compact(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hello there"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        }
    )


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def chat_sse() -> str:
    """20 chunks (role, 18 words, finish), then the usage chunk and [DONE]."""
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": word}) for word in WORDS]
    chunks.append(_chunk({}, "stop"))
    usage = {**_chunk({}), "choices": [], "usage": _USAGE_OAI}
    return "".join(_data(c) for c in [*chunks, usage]) + "data: [DONE]\n\n"


def _response(status: str, text: str | None) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if text is not None:
        part = {"type": "output_text", "text": text, "annotations": []}
        output.append(
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [part],
            }
        )
    usage = {
        "input_tokens": 5,
        "output_tokens": 18,
        "total_tokens": 23,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": status,
        "model": "bench",
        "output": output,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "usage": usage if status == "completed" else None,
    }


def responses_json() -> str:
    return _compact(_response("completed", "hello there"))


def responses_sse() -> str:
    text = "".join(WORDS)
    item = {"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant"}
    part = {"type": "output_text", "text": "", "annotations": []}
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": _response("in_progress", None)}),
        ("response.in_progress", {"response": _response("in_progress", None)}),
        ("response.output_item.added", {"output_index": 0, "item": {**item, "content": []}}),
        ("response.content_part.added", {**where, "part": part}),
    ]
    events += [("response.output_text.delta", {**where, "delta": word}) for word in WORDS]
    done_part = {**part, "text": text}
    done_item = {**item, "status": "completed", "content": [done_part]}
    events += [
        ("response.output_text.done", {**where, "text": text}),
        ("response.content_part.done", {**where, "part": done_part}),
        ("response.output_item.done", {"output_index": 0, "item": done_item}),
        ("response.completed", {"response": _response("completed", text)}),
    ]
    return "".join(
        _event(name, {"type": name, "sequence_number": n, **body})
        for n, (name, body) in enumerate(events)
    )


def _message(text: str | None, stop: str | None, output_tokens: int) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "bench",
        "content": [] if text is None else [{"type": "text", "text": text}],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": output_tokens},
    }


def messages_json() -> str:
    return _compact(_message("hello there", "end_turn", 2))


def messages_sse() -> str:
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"message": _message(None, None, 1)}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    events += [
        ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word}})
        for word in WORDS
    ]
    events += [
        ("content_block_stop", {"index": 0}),
        (
            "message_delta",
            {
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(WORDS)},
            },
        ),
        ("message_stop", {}),
    ]
    return "".join(_event(name, {"type": name, **body}) for name, body in events)


_PIECE = 3000  # nginx refuses a single token longer than its 4 KiB parse buffer


def _location(match: str, content_type: str, body: str) -> str:
    """A location answering ``body``; a long body is set in pieces and joined."""
    # nginx interpolates "$" and ends a string at "'": the canned bodies have neither.
    if "$" in body or "'" in body:
        raise ValueError("a canned body nginx cannot hold")
    pieces = [body[i : i + _PIECE] for i in range(0, len(body), _PIECE)]
    sets = "".join(f" set $piece{n} '{piece}';" for n, piece in enumerate(pieces))
    joined = "".join(f"${{piece{n}}}" for n in range(len(pieces)))
    return f'  location {match} {{ default_type {content_type};{sets} return 200 "{joined}"; }}\n'


def upstream_locations() -> str:
    """The server block's locations: regex ones (responses) win over the prefixes."""
    sse = "text/event-stream"
    js = "application/json"
    return "".join(
        [
            _location("~ ^/oai-json/.*/responses$", js, responses_json()),
            _location("~ ^/oai-sse/.*/responses$", sse, responses_sse()),
            _location("/oai-json/", js, chat_json()),
            _location("/oai-sse/", sse, chat_sse()),
            _location("/anth-json/", js, messages_json()),
            _location("/anth-sse/", sse, messages_sse()),
        ]
    )


def _http(work: Path, servers: str) -> str:
    return (
        f"worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/error.log;\n"
        "events { worker_connections 8192; }\n"
        f"http {{ access_log off; client_body_temp_path {work}/body;\n"
        f" proxy_temp_path {work}/proxy; keepalive_requests 1000000;\n{servers}}}\n"
    )


def upstream_conf(work: Path, port: int) -> str:
    return _http(work, f" server {{ listen 127.0.0.1:{port};\n{upstream_locations()} }}\n")


def hop_conf(work: Path, port: int, upstream_port: int) -> str:
    """An nginx reverse proxy to the upstream: pooled connections, no buffering."""
    servers = (
        f" upstream canned {{ server 127.0.0.1:{upstream_port}; keepalive 128; }}\n"
        f" server {{ listen 127.0.0.1:{port};\n"
        "  location / { proxy_pass http://canned; proxy_http_version 1.1;\n"
        '   proxy_set_header Connection ""; proxy_buffering off; }\n }\n'
    )
    return _http(work, servers)
