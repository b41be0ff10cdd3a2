"""The scripted upstream answers of the differential suite, as an OpenAI-wire upstream
sends them: each case a JSON body and the chunk list of the same answer streamed.

Every body and chunk here validates against OpenAI's published schema (checked by
``test_differential.test_the_cases_themselves_are_valid``), so a violation seen through
tollway is tollway's (or LiteLLM's) own. Streams are written as the upstream answers a
request with ``stream_options.include_usage`` (which tollway always sends): ``usage``
null on every chunk, then a usage-only chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CREATED = 1_700_000_000
USAGE = {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}
DETAILED_USAGE = {
    **USAGE,
    "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 5,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@dataclass(frozen=True)
class Case:
    name: str
    body: dict[str, Any]  # the JSON answer
    chunks: list[dict[str, Any]]  # the same answer streamed, usage chunk last
    request: dict[str, Any] = field(default_factory=dict)  # what the client asks with it


def completion(
    choices: list[dict[str, Any]], usage: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion",
        "created": CREATED,
        "model": "upstream-model",
        "choices": choices,
        "usage": usage,
        "system_fingerprint": "fp_upstream",
        **extra,
    }


def chunk(
    choices: list[dict[str, Any]], usage: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "upstream-model",
        "system_fingerprint": "fp_upstream",
        "choices": choices,
        "usage": usage,
        **extra,
    }


def choice(
    message: dict[str, Any], finish: str, index: int = 0, logprobs: Any = None
) -> dict[str, Any]:
    full = {"role": "assistant", "content": None, "refusal": None, "annotations": [], **message}
    return {"index": index, "message": full, "logprobs": logprobs, "finish_reason": finish}


def delta(
    index: int = 0, finish: str | None = None, logprobs: Any = None, **fields: Any
) -> dict[str, Any]:
    return {"index": index, "delta": fields, "logprobs": logprobs, "finish_reason": finish}


def streamed(
    deltas: list[dict[str, Any]], usage: dict[str, Any] = USAGE, **extra: Any
) -> list[dict[str, Any]]:
    """One chunk per delta, then the usage-only chunk."""
    return [*(chunk([d], **extra) for d in deltas), chunk([], usage, **extra)]


def text_case(name: str, finish: str) -> Case:
    return Case(
        name,
        completion([choice({"content": "Hello there."}, finish)], USAGE),
        streamed(
            [
                delta(role="assistant", content="", refusal=None),
                delta(content="Hello"),
                delta(content=" there."),
                delta(finish=finish),
            ]
        ),
    )


def tool_call(index: int, call_id: str, city: str) -> dict[str, Any]:
    arguments = f'{{"city": "{city}"}}'
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }


def fragments(index: int, call_id: str, city: str) -> list[dict[str, Any]]:
    """A tool call as OpenAI streams it: id and name first, arguments in pieces."""
    head = {"index": index, "id": call_id, "type": "function"}
    head["function"] = {"name": "get_weather", "arguments": ""}
    pieces = ['{"ci', 'ty": "', city, '"}']
    return [head, *({"index": index, "function": {"arguments": p}} for p in pieces)]


def tool_calls_case(name: str, cities: list[str]) -> Case:
    calls = [tool_call(i, f"call_{i}", city) for i, city in enumerate(cities)]
    pieces = [fragments(i, f"call_{i}", city) for i, city in enumerate(cities)]
    # Parallel calls interleave their fragments, as OpenAI's do.
    order = [p for step in zip(*pieces, strict=True) for p in step]
    deltas = [delta(role="assistant", content=None)]
    deltas += [delta(tool_calls=[p]) for p in order]
    deltas.append(delta(finish="tool_calls"))
    request = {"tools": TOOLS, "parallel_tool_calls": len(cities) > 1}
    return Case(
        name,
        completion([choice({"tool_calls": calls}, "tool_calls")], USAGE),
        streamed(deltas),
        request,
    )


def function_call_case() -> Case:
    call = {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    deltas = [
        delta(
            role="assistant", content=None, function_call={"name": "get_weather", "arguments": ""}
        ),
        delta(function_call={"arguments": '{"city": '}),
        delta(function_call={"arguments": '"Oslo"}'}),
        delta(finish="function_call"),
    ]
    body = completion([choice({"function_call": call}, "function_call")], USAGE)
    return Case(
        "finish_function_call", body, streamed(deltas), {"functions": [TOOLS[0]["function"]]}
    )


def token(text: str, logprob: float) -> dict[str, Any]:
    top = [{"token": text, "logprob": logprob, "bytes": list(text.encode())}]
    return {"token": text, "logprob": logprob, "bytes": list(text.encode()), "top_logprobs": top}


def logprobs_case() -> Case:
    tokens = [token("Hi", -0.25), token("!", -1.5)]
    body = completion(
        [choice({"content": "Hi!"}, "stop", logprobs={"content": tokens, "refusal": None})], USAGE
    )
    deltas = [
        delta(
            role="assistant", content="", refusal=None, logprobs={"content": [], "refusal": None}
        ),
        delta(content="Hi", logprobs={"content": tokens[:1], "refusal": None}),
        delta(content="!", logprobs={"content": tokens[1:], "refusal": None}),
        delta(finish="stop"),
    ]
    return Case("logprobs", body, streamed(deltas), {"logprobs": True, "top_logprobs": 1})


def two_choices_case() -> Case:
    body = completion(
        [choice({"content": "One."}, "stop", 0), choice({"content": "Two."}, "length", 1)], USAGE
    )
    deltas = [
        delta(0, role="assistant", content="", refusal=None),
        delta(1, role="assistant", content="", refusal=None),
        delta(0, content="One."),
        delta(1, content="Two."),
        delta(0, finish="stop"),
        delta(1, finish="length"),
    ]
    return Case("n_2", body, streamed(deltas), {"n": 2})


def refusal_case() -> Case:
    body = completion([choice({"refusal": "I can't help with that."}, "stop")], USAGE)
    deltas = [
        delta(role="assistant", content=None, refusal=""),
        delta(refusal="I can't "),
        delta(refusal="help with that."),
        delta(finish="stop"),
    ]
    return Case("refusal", body, streamed(deltas))


def reasoning_case() -> Case:
    detail = {"type": "reasoning.text", "text": "Think first.", "format": "unknown", "index": 0}
    message = {"content": "Done.", "reasoning": "Think first.", "reasoning_details": [detail]}
    deltas = [
        delta(
            role="assistant",
            content="",
            reasoning="Think ",
            reasoning_details=[{**detail, "text": "Think "}],
        ),
        delta(content="", reasoning="first.", reasoning_details=[{**detail, "text": "first."}]),
        delta(content="Done."),
        delta(finish="stop"),
    ]
    body = completion([choice(message, "stop")], DETAILED_USAGE)
    return Case("reasoning", body, streamed(deltas, DETAILED_USAGE), {"reasoning_effort": "low"})


def usage_details_case() -> Case:
    base = text_case("usage_details", "stop")
    body = {**base.body, "usage": DETAILED_USAGE, "service_tier": "default"}
    chunks = [{**c, "service_tier": "default"} for c in base.chunks]
    chunks[-1]["usage"] = DETAILED_USAGE
    return Case("usage_details", body, chunks)


def unknown_fields_case() -> Case:
    """Fields no schema names: a client of that provider relies on them arriving."""
    base = text_case("unknown_fields", "stop")
    body = {**base.body, "x_vendor": {"region": "eu", "trace": [1, 2]}}
    body["choices"] = [{**base.body["choices"][0], "x_choice_note": "kept"}]
    body["choices"][0]["message"] = {**body["choices"][0]["message"], "x_message_note": 7}
    chunks = [{**c, "x_vendor": {"region": "eu"}} for c in base.chunks]
    chunks[1]["choices"] = [{**chunks[1]["choices"][0], "x_choice_note": "kept"}]
    return Case("unknown_fields", body, chunks)


CHAT_CASES = [
    text_case("text", "stop"),
    text_case("finish_length", "length"),
    text_case("finish_content_filter", "content_filter"),
    tool_calls_case("tool_call_fragmented", ["Oslo"]),
    tool_calls_case("parallel_tool_calls", ["Oslo", "Lima"]),
    function_call_case(),
    logprobs_case(),
    two_choices_case(),
    refusal_case(),
    reasoning_case(),
    usage_details_case(),
    unknown_fields_case(),
]
