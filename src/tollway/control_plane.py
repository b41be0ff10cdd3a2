"""The store side of a process: the database (migrated), the secret store, the services
over them and the first admin token. The server's runtime opens one; so do the CLI
commands that act on this machine's data directory, and the parent of ``--workers``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

from tollway.domain.catalog import ListerLookup, family_lister
from tollway.domain.services import Services, build_services
from tollway.observability.logging import scrubbed_log_records
from tollway.observability.metrics import Metrics
from tollway.observability.scrubbing import KnownSecrets
from tollway.secrets.base import ignore_errors
from tollway.secrets.factory import open_secret_store
from tollway.settings import Settings
from tollway.store import migrate
from tollway.store.db import Database


@dataclass(frozen=True, slots=True)
class ControlPlane:
    """What the control plane holds open; opened by ``open``, closed by ``close``."""

    settings: Settings
    services: Services
    initial_admin_token: str | None
    # Undoes what ``open`` installed process-wide (log record scrubbing).
    installed: ExitStack = field(default_factory=ExitStack)

    @classmethod
    def open(
        cls,
        settings: Settings,
        metrics: Metrics | None = None,
        listers: ListerLookup = family_lister,
    ) -> ControlPlane:
        """``metrics``, when given, counts the secret store's errors and the catalog's
        refreshes; ``listers`` is the model catalog's seam for tests."""
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        database = Database(settings.resolved_database_url)
        on_error = metrics.count_secret_store_error if metrics else ignore_errors
        try:
            migrate.upgrade(database)
            known_secrets = KnownSecrets()
            secrets = open_secret_store(settings, database, known_secrets, on_error=on_error)
        except BaseException:
            database.dispose()
            raise
        services = build_services(
            settings, database, secrets, known_secrets, metrics=metrics, listers=listers
        )
        token = services.admin_tokens.ensure_initial_token()
        control = cls(settings=settings, services=services, initial_admin_token=token)
        control.installed.enter_context(scrubbed_log_records(services.known_secrets))
        return control

    def close(self) -> None:
        self.services.catalog.close()
        self.installed.close()
        self.services.secrets.close()
        self.services.database.dispose()


# Work done with the open control plane at start-up: imports, demo data, banners.
StartHook = Callable[[ControlPlane], None]
