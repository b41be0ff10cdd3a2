"""The pure rules of verification: which tests a model must pass, what they send, and
how runs move its state."""

from __future__ import annotations

import pytest

from tollway.domain.verification_state import next_status
from tollway.domain.verification_tests import ModelTraits, Suite, TestType, judge, plan, probe
from tollway.store.enums import ModelStatus

U, V, BAD = ModelStatus.UNVERIFIED, ModelStatus.VERIFIED, ModelStatus.INVALID


def test_the_plan_follows_declared_capabilities() -> None:
    chat = ModelTraits(frozenset({"tools", "vision"}), supports_streaming=False)
    assert plan(chat, Suite.BASIC) == [TestType.REACHABLE, TestType.COMPLETION]
    assert plan(chat, Suite.FULL) == [
        TestType.REACHABLE,
        TestType.COMPLETION,
        TestType.TOOL_CALL,
        TestType.VISION,
    ]
    embed = ModelTraits(frozenset({"embeddings"}))
    assert plan(embed, Suite.FULL) == [TestType.REACHABLE, TestType.EMBEDDING]


def test_reasoning_models_get_room_to_answer() -> None:
    plain = probe(TestType.COMPLETION, ModelTraits())
    thinking = probe(TestType.COMPLETION, ModelTraits(supports_reasoning=True))
    assert (plain.body["max_tokens"], thinking.body["max_tokens"]) == (16, 256)


@pytest.mark.parametrize(
    ("current", "runs", "expected"),
    [
        (U, [True], V),
        (V, [False, False], V),
        (V, [False, False, False], U),
        (V, [False, False, True], V),  # a pass in between resets the count
        (U, [False, False, False], U),
        (BAD, [True], BAD),  # invalid stays: verification cannot bring a provider back
        # retired stays: a run finishing after the delete must not revive it
        (ModelStatus.RETIRED, [True], ModelStatus.RETIRED),
        (ModelStatus.RETIRED, [False, False, False], ModelStatus.RETIRED),
    ],
)
def test_state_transitions(current: ModelStatus, runs: list[bool], expected: ModelStatus) -> None:
    assert next_status(current, runs, failures_to_unverify=3) is expected


def test_an_empty_answer_fails_the_completion() -> None:
    empty = {"choices": [{"message": {"content": ""}}]}
    assert judge(TestType.COMPLETION, empty).passed is False
