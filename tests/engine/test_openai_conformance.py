"""LiteLLM's breaks of OpenAI's schema, corrected (engine/openai_conformance.py)."""

from __future__ import annotations

from tollway.engine.openai_conformance import conform


def test_null_role_refusal_and_fragment_keys_go_and_sent_values_stay() -> None:
    chunk = {
        "choices": [
            {
                "index": 0,
                "delta": {
                    "role": None,
                    "content": None,
                    "refusal": "",
                    "tool_calls": [
                        {"index": 0, "id": None, "type": None, "function": {"name": None}},
                        {"index": 1, "id": "c", "type": "function", "function": {"name": "f"}},
                    ],
                },
                "finish_reason": None,
            }
        ]
    }
    assert conform(chunk)["choices"][0]["delta"] == {
        "content": None,
        "tool_calls": [
            {"index": 0, "function": {}},
            {"index": 1, "id": "c", "type": "function", "function": {"name": "f"}},
        ],
    }


def test_completion_text_null_becomes_empty_and_usage_nulls_go() -> None:
    chunk = {
        "choices": [{"index": 0, "text": None, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 1,
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": None},
            "prompt_tokens_details": None,
        },
    }
    assert conform(chunk) == {
        "choices": [{"index": 0, "text": "", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens_details": {"reasoning_tokens": 0}},
    }


def test_a_real_role_and_refusal_are_kept() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"role": "assistant", "refusal": "No."}}]}
    assert conform(chunk) == {
        "choices": [{"index": 0, "delta": {"role": "assistant", "refusal": "No."}}]
    }


def test_a_null_system_fingerprint_goes_and_a_sent_one_stays() -> None:
    # LiteLLM's ModelResponseStream dumps system_fingerprint: null on every chunk.
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
    assert "system_fingerprint" not in conform(chunk)
    sent = {"object": "chat.completion.chunk", "system_fingerprint": "fp_1", "choices": []}
    assert conform(sent)["system_fingerprint"] == "fp_1"


def test_an_answer_gets_its_required_null_logprobs_and_refusal_and_nothing_else() -> None:
    # As wire._clean leaves LiteLLM's translated answer: no logprobs, no refusal.
    answer = {
        "object": "chat.completion",
        "choices": [
            {
                "finish_reason": "stop",
                "index": 0,
                "message": {"content": "Hello", "role": "assistant"},
            }
        ],
    }
    assert conform(answer)["choices"] == [
        {
            "finish_reason": "stop",
            "index": 0,
            "message": {"content": "Hello", "role": "assistant", "refusal": None},
            "logprobs": None,
        }
    ]


def test_a_tools_only_answer_gets_null_content_and_sent_values_stay() -> None:
    logprobs = {"content": [], "refusal": None}
    answer = {
        "choices": [
            {
                "finish_reason": "length",
                "index": 0,
                "logprobs": logprobs,
                "message": {"role": "assistant", "refusal": "No.", "tool_calls": []},
            }
        ]
    }
    [choice] = conform(answer)["choices"]
    assert choice["logprobs"] is logprobs
    assert choice["finish_reason"] == "length"
    assert choice["message"] == {
        "role": "assistant",
        "refusal": "No.",
        "tool_calls": [],
        "content": None,
    }


def test_a_turn_that_called_tools_ends_with_tool_calls_not_stop() -> None:
    # LiteLLM's Cohere v2 translation: Cohere's finish_reason TOOL_CALL is never read.
    call = {
        "id": "call_1",
        "type": "function",
        "index": 0,
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    answer = {
        "choices": [
            {
                "finish_reason": "stop",
                "index": 0,
                "message": {"content": None, "role": "assistant", "tool_calls": [call]},
            }
        ]
    }
    assert conform(answer)["choices"][0]["finish_reason"] == "tool_calls"
    plain = {"choices": [{"finish_reason": "stop", "index": 0, "message": {"content": "x"}}]}
    assert conform(plain)["choices"][0]["finish_reason"] == "stop"
