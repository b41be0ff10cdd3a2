"""Verification runs the console started, watched while they run.

A run takes seconds (each test is a real call through the engine), so the console
starts it after answering (a background task of the POST's response) and the run's
page polls a fragment that shows each test's result as it completes
(``VerificationService.verify``'s ``on_result``). The runs live in this replica's
memory only until they end: once recorded, a run is read from the database like any
other, so a page served by another replica shows it as soon as it is stored.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from starlette.applications import Starlette

from tollway.domain.common import Actor
from tollway.domain.verification import VerificationService
from tollway.domain.verification_schemas import VerificationRead, VerificationRun
from tollway.domain.verification_tests import Suite
from tollway.errors import TollwayError

log = logging.getLogger(__name__)

# Finished runs kept in memory for their pages (the oldest go first; they stay in the
# database).
KEEP_FINISHED = 100


@dataclass
class LiveRun:
    run_id: uuid.UUID
    model_id: uuid.UUID
    suite: Suite
    results: list[VerificationRead] = field(default_factory=list)
    outcome: VerificationRun | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.outcome is not None or self.error is not None


class LiveRuns:
    """The runs this console app started. Touched on the event loop only (the POST
    that starts a run and the run itself are async), so it needs no lock."""

    def __init__(self) -> None:
        self._runs: dict[uuid.UUID, LiveRun] = {}

    def start(self, model_id: uuid.UUID, suite: Suite) -> LiveRun:
        self._forget_old()
        run = LiveRun(run_id=uuid.uuid4(), model_id=model_id, suite=suite)
        self._runs[run.run_id] = run
        return run

    def get(self, run_id: uuid.UUID) -> LiveRun | None:
        return self._runs.get(run_id)

    def _forget_old(self) -> None:
        finished = [run_id for run_id, run in self._runs.items() if run.done]
        for run_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._runs[run_id]


def live_runs(app: Starlette) -> LiveRuns:
    """The app's runs (made on first use, on the event loop)."""
    runs: LiveRuns | None = getattr(app.state, "model_runs", None)
    if runs is None:
        runs = LiveRuns()
        app.state.model_runs = runs
    return runs


def find_live_run(app: Starlette, run_id: uuid.UUID) -> LiveRun | None:
    runs: LiveRuns | None = getattr(app.state, "model_runs", None)
    return runs.get(run_id) if runs is not None else None


async def run_verification(service: VerificationService, run: LiveRun, actor: Actor) -> None:
    """The run, through the same service call as ``POST /admin/v1/models/{id}/verify``;
    a domain error (an invalid model, say) is shown on the run's page."""
    try:
        run.outcome = await service.verify(
            run.model_id, run.suite, actor, run_id=run.run_id, on_result=run.results.append
        )
    except TollwayError as exc:
        run.error = exc.message
    except Exception:
        log.exception("verification run %s failed", run.run_id)
        run.error = "The run failed unexpectedly (the server log has the cause)."
    finally:
        if not run.done:
            run.error = "The run was interrupted before it ended."
