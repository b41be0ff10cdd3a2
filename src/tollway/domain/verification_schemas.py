"""What the admin API and the CLI show of verification runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field

from tollway.domain.common import Input, Output
from tollway.domain.verification_tests import Suite
from tollway.store.enums import ModelStatus
from tollway.store.tables import VerificationResult


class VerifyRequest(Input):
    suite: Suite = Field(
        default=Suite.BASIC,
        description="basic: reachable and one capped completion; full: also every opt-in "
        "test the model's capabilities call for (streaming, tool_call, json_schema, vision).",
    )


class VerificationRead(Output):
    id: uuid.UUID
    model_id: uuid.UUID
    provider_id: uuid.UUID
    provider_key_id: uuid.UUID | None
    run_id: uuid.UUID
    test_type: str
    passed: bool
    score: float | None
    latency_ms: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal | None
    evidence: dict[str, Any] = Field(
        description="The request's shape and a short excerpt of the answer; never a key."
    )
    error: str | None
    created_at: datetime


class VerificationSummary(Output):
    """A model's last run, as its listing shows it."""

    run_id: uuid.UUID
    passed: bool = Field(description="Every test the run required passed.")
    at: datetime
    tests: dict[str, bool]


class VerificationRun(Output):
    model_id: uuid.UUID
    run_id: uuid.UUID
    suite: Suite
    passed: bool
    status: ModelStatus = Field(description="The model's status after the run.")
    previous_status: ModelStatus
    results: list[VerificationRead]


def summary_of(results: list[VerificationResult]) -> VerificationSummary | None:
    if not results:
        return None
    return VerificationSummary(
        run_id=results[0].run_id,
        passed=all(r.passed for r in results),
        at=max(r.created_at for r in results),
        tests={r.test_type: r.passed for r in results},
    )
