"""/admin/v1/settings: import and export the settings file format."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.domain.settings_file import parse_document
from tollway.domain.settings_migration import is_legacy
from tollway.errors import ValidationError

router = APIRouter(prefix="/settings", tags=["settings"])


class ImportResult(BaseModel):
    providers_created: int
    providers_updated: int
    keys_stored: int
    models_created: int
    models_updated: int
    warnings: list[str]
    models_not_in_catalog: list[dict[str, Any]] = Field(
        description="Imported models whose model_id their provider's cached catalog does not "
        "list (id, name, model_id, provider_id, suggestions): imported all the same."
    )


@router.post("/import")
def import_settings(
    document: dict[str, Any], services: ServicesDep, actor: AdminActor
) -> ImportResult:
    """Upsert providers (keys to the secret store) and models by id. Legacy files are
    migrated by the CLI before they are sent; this endpoint takes the current format."""
    if is_legacy(document):
        # Its problems would read as the current format's ("expected a UUID string"),
        # which hides the one thing to do.
        raise ValidationError(
            "a legacy settings file (catalog entries with providerConfig, no providers): "
            "import it with `tollway settings import FILE`, which migrates it first "
            "(`--dry-run` shows the migrated form)"
        )
    summary = services.settings_io.apply(parse_document(document), actor)
    return ImportResult.model_validate(summary.__dict__)


@router.get("/export")
def export_settings(services: ServicesDep, _actor: AdminActor) -> dict[str, Any]:
    """The settings file of this install; provider keys appear only as fingerprints."""
    return services.settings_io.export()
