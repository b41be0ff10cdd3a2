"""What the HTTP layer reads from the process runtime, and where it finds it.

The composition root (``tollway.runtime``, above this layer) builds the runtime and
attaches it to the app once, as ``app.state.runtime``; every handler reaches it
through ``app_runtime``, typed by the protocol below, which the runtime satisfies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.applications import Starlette

from tollway.domain.health import HealthChecks
from tollway.domain.services import Services
from tollway.domain.status import StatusService
from tollway.domain.verification import VerificationService
from tollway.metering.journal import UsageJournal
from tollway.observability.metrics import Metrics
from tollway.quotas.counters import QuotaStore
from tollway.routing.holder import RoutingTableHolder

if TYPE_CHECKING:  # the /v1 routes read this module: no import cycle at run time
    from tollway.api.inference.routes import InferenceApi


@dataclass(frozen=True, slots=True)
class ServingDependencies:
    """What the data plane serves and bills with (the readiness probe checks them)."""

    quotas: QuotaStore
    journal: UsageJournal
    routing: RoutingTableHolder


class AppRuntime(Protocol):
    @property
    def services(self) -> Services: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def inference_api(self) -> InferenceApi: ...

    @property
    def serving(self) -> ServingDependencies: ...

    @property
    def health(self) -> HealthChecks: ...

    @property
    def status(self) -> StatusService: ...

    @property
    def verification(self) -> VerificationService: ...


def attach_runtime(app: Starlette, runtime: AppRuntime) -> None:
    app.state.runtime = runtime


def app_runtime(app: Starlette) -> AppRuntime:
    runtime: AppRuntime = app.state.runtime
    return runtime
