"""How a verification run moves a model between its states (pure).

``unverified`` -> ``verified`` when a run passes every test it required; a verified
model goes back to ``unverified`` only after ``failures_to_unverify`` consecutive
failed runs (one flaky run must not unpublish a model from verified-only routing);
``invalid`` (the provider is missing) and ``retired`` (deleted while it had results)
are left alone: verification cannot fix the one and must not revive the other.
"""

from __future__ import annotations

from collections.abc import Sequence

from tollway.store.enums import ModelStatus


def next_status(
    current: ModelStatus, runs_passed: Sequence[bool], failures_to_unverify: int
) -> ModelStatus:
    """``runs_passed``: the model's latest runs, newest (this one) first."""
    if current in (ModelStatus.INVALID, ModelStatus.RETIRED) or not runs_passed:
        return current
    if runs_passed[0]:
        return ModelStatus.VERIFIED
    recent = runs_passed[:failures_to_unverify]
    if len(recent) == failures_to_unverify and not any(recent):
        return ModelStatus.UNVERIFIED
    return current
