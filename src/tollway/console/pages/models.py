"""Models: every public name with its deployments, their verification states and the
name's routing strategy; one model's details and history of verification results;
running a verification (basic or full) and watching its results arrive.

The same services as /admin/v1/models: ``services.models`` for the rows and
``VerificationService`` (on the runtime) for runs and their history.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.forms import NO_ERRORS, FormErrors
from tollway.console.pages.model_runs import (
    LiveRun,
    find_live_run,
    live_runs,
    run_verification,
)
from tollway.console.pages.models_view import (
    RESULTS_PER_PAGE,
    badge_class,
    in_test_order,
    names_page,
    public_names,
    runs_of,
)
from tollway.console.state import console_state
from tollway.domain.models import ModelRead
from tollway.domain.verification_tests import Suite
from tollway.store.enums import ModelStatus

router = APIRouter()

SUITES = [
    (Suite.BASIC.value, "Basic: reachable, and one short completion"),
    (Suite.FULL.value, "Full: also each capability the model declares"),
]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
Offset = Annotated[int, Query(ge=0, le=10**9)]


@router.get("/models", name="models")
def models_page(
    console: SignedIn,
    q: Annotated[str, Query(max_length=400)] = "",
    status: Annotated[str, Query(max_length=40)] = "",
    page: PageNumber = 1,
) -> Response:
    listing = names_page(console.services.models.list(), q.strip(), status, page)
    statuses = [("", "Any status"), *((s.value, s.value) for s in ModelStatus)]
    return console.render(
        "models.html",
        {
            "listing": listing,
            "query": q,
            "status": status,
            "statuses": statuses,
            "badge_class": badge_class,
            "detail_path": _detail_paths(console),
        },
        title="Models",
    )


def _detail_paths(console: ConsoleContext) -> Callable[[uuid.UUID], str]:
    """Each model's detail path from one look-up: ``url_for`` walks every route of the
    app (about a millisecond a call), too slow a hundred times per page."""
    placeholder = "00000000-0000-0000-0000-000000000000"
    path = console.url("model_detail", model_id=placeholder)
    return lambda model_id: path.replace(placeholder, str(model_id))


@router.get("/models/{model_id}", name="model_detail")
def model_detail_page(console: SignedIn, model_id: uuid.UUID, offset: Offset = 0) -> Response:
    return _detail(console, model_id, offset, "basic", NO_ERRORS)


@router.post("/models/{model_id}/verify", name="model_verify")
async def verify_model(
    console: SignedIn, model_id: uuid.UUID, suite: Annotated[str, Form()] = ""
) -> Response:
    """Start a run (after answering) and send the browser to its page."""
    if suite not in {s.value for s in Suite}:
        errors = FormErrors(
            fields={"suite": "Choose basic or full."}, summary=["suite: choose basic or full"]
        )
        return await run_in_threadpool(_detail, console, model_id, 0, suite, errors)
    await run_in_threadpool(console.services.models.get, model_id)  # 404 for an unknown id
    run = live_runs(console.request.app).start(model_id, Suite(suite))
    task = BackgroundTask(run_verification, console.runtime.verification, run, console.actor)
    return RedirectResponse(
        console.url("model_run", model_id=model_id, run_id=run.run_id),
        status_code=303,
        background=task,
    )


@router.get("/models/{model_id}/runs/{run_id}", name="model_run")
def model_run_page(console: SignedIn, model_id: uuid.UUID, run_id: uuid.UUID) -> Response:
    model = console.services.models.get(model_id)
    context = {"model": model, **_run_context(console, model, run_id)}
    return console.render("models/run.html", context, title=f"Verifying {model.name}")


@router.get("/models/{model_id}/runs/{run_id}/progress", name="model_run_progress")
def model_run_progress(console: SignedIn, model_id: uuid.UUID, run_id: uuid.UUID) -> Response:
    """The run's results so far, for the run page's ``data-poll`` (no layout)."""
    model = console.services.models.get(model_id)
    return console_state(console.request.app).templates.TemplateResponse(
        console.request, "models/_run_progress.html", _run_context(console, model, run_id)
    )


def _detail(
    console: ConsoleContext, model_id: uuid.UUID, offset: int, suite: str, errors: FormErrors
) -> Response:
    model = console.services.models.get(model_id)
    siblings = console.services.models.list(name=model.name)
    history = console.runtime.verification.history(model_id, RESULTS_PER_PAGE, offset)
    complete = offset + len(history.items) >= history.total
    runs = runs_of(history.items, complete=complete)
    shown = sum(len(run.results) for run in runs)
    context = {
        "model": model,
        "siblings": siblings,
        "strategy": _strategy(siblings, model),
        "runs": runs,
        "older_offset": offset + shown if offset + shown < history.total else None,
        "newer": offset > 0,
        "suites": SUITES,
        "suite": suite,
        "errors": errors,
        "badge_class": badge_class,
    }
    status = errors.status if errors else 200
    return console.render("models/detail.html", context, title=model.name, status=status)


def _strategy(siblings: list[ModelRead], model: ModelRead) -> str:
    groups = public_names(siblings or [model])
    return str(groups[0].strategy)


def _run_context(console: ConsoleContext, model: ModelRead, run_id: uuid.UUID) -> dict[str, Any]:
    live: LiveRun | None = find_live_run(console.request.app, run_id)
    if live is not None and live.model_id != model.id:
        live = None
    verification = console.runtime.verification
    recorded = [] if live is not None else verification.run_results(model.id, run_id)
    results = in_test_order(live.results if live is not None else recorded)
    return {
        "model": model,
        "run_id": run_id,
        "live": live,
        "results": results,
        "done": live.done if live is not None else True,
        "known": live is not None or bool(recorded),
        "badge_class": badge_class,
    }
