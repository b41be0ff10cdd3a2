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
