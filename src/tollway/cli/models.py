"""``tollway models``: a provider's model published under the public name agents ask for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from tollway.cli import model_verify, output, resolve
from tollway.cli.client import changes, connect, fields, usage_error
from tollway.cli.output import (
    Column,
    JsonOption,
    LimitOption,
    ListView,
    NoPagerOption,
    WideOption,
    col,
    ident,
    named,
    when,
)

app = typer.Typer(
    help="Models: a provider's model under a public name.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

ModelArg = Annotated[
    str,
    typer.Argument(
        metavar="MODEL", help="Model: public name, tollway's id or a unique prefix of it."
    ),
]
DescriptionOption = Annotated[str | None, typer.Option(help="Free text.")]
VersionOption = Annotated[str | None, typer.Option(help="Model version.")]
ArchitectureOption = Annotated[str | None, typer.Option(help="Architecture, e.g. transformer.")]
MaxInputOption = Annotated[
    int | None, typer.Option("--max-input-tokens", min=1, help="Context window.")
]
MaxOutputOption = Annotated[
    int | None, typer.Option("--max-output-tokens", min=1, help="Longest completion.")
]
OpenRouterOption = Annotated[
    str | None, typer.Option("--openrouter-model-id", help="The model's id on OpenRouter.")
]
PriorityOption = Annotated[
    int | None, typer.Option(min=-1000, max=1000, help="Higher is tried first.")
]
WeightOption = Annotated[
    int | None, typer.Option(min=0, max=1000, help="Share of traffic among equal priorities.")
]
StreamingOption = Annotated[
    bool | None, typer.Option("--streaming/--no-streaming", help="Supports streaming.")
]
ReasoningOption = Annotated[
    bool | None, typer.Option("--reasoning/--no-reasoning", help="Supports reasoning.")
]
EnabledOption = Annotated[
    bool | None, typer.Option("--enabled/--disabled", help="Whether traffic may use it.")
]
SkipCheckOption = Annotated[
    bool,
    typer.Option(
        "--skip-catalog-check",
        help="Do not check the model id against the provider's catalog (for providers "
        "that do not list it); nothing is filled from the catalog. Audited.",
    ),
]

MODEL_COLUMNS = (
    ident("id", "id"),
    col("name", "name"),
    col("model id", "model_id"),
    named("provider", "provider_name", "provider_id"),
    ident("provider id", "provider_id"),
    col("status", "status"),
    col("enabled", "enabled"),
    col("priority", "priority"),
    col("weight", "weight"),
)

_DETAILS = (
    *MODEL_COLUMNS,
    Column("last verification", model_verify.last_run),
    col("error", "error"),
    col("description", "description"),
    col("version", "version"),
    col("architecture", "architecture"),
    col("max input tokens", "max_input_tokens"),
    col("max output tokens", "max_output_tokens"),
    col("streaming", "supports_streaming"),
    col("reasoning", "supports_reasoning"),
    col("openrouter id", "openrouter_model_id"),
    col("legacy id", "legacy_id"),
    when("created", "created_at"),
    when("updated", "updated_at"),
)


def _sources(record: Mapping[str, Any]) -> str | None:
    sources = record.get("metadata_sources") or {}
    filled = [f"{name} ({source})" for name, source in sources.items() if source != "manual"]
    return ", ".join(filled) or None


# Shown after a create, update or publish: what the catalog check said and filled.
_WRITTEN = (
    Column("catalog check", lambda record: (record.get("catalog_check") or {}).get("status")),
    Column("from the catalog", _sources),
)


def show_model(model: dict[str, Any]) -> None:
    written = _WRITTEN if "catalog_check" in model else ()
    output.show_record(model, (*_DETAILS, *written), title=f"model {model['name']}")


def warn_catalog(models: list[dict[str, Any]]) -> None:
    """The catalog check's warnings (an id a static list misses, a failed refresh)."""
    seen: dict[str, None] = {}
    for model in models:
        seen.update(dict.fromkeys((model.get("catalog_check") or {}).get("warnings") or []))
    for warning in seen:
        output.warn(warning)


def _unchecked(skip: bool) -> dict[str, str] | None:
    return {"skip_catalog_check": "true"} if skip else None


@app.command("list")
def list_models(
    ctx: typer.Context,
    *,
    name: Annotated[str | None, typer.Option(help="Only this public name.")] = None,
    provider: Annotated[
        str | None,
        typer.Option(metavar="PROVIDER", help=f"Only this provider's ({resolve.REF_HELP})."),
    ] = None,
    include_retired: Annotated[
        bool,
        typer.Option(
            "--include-retired",
            help="Also list retired models (deleted while they had verification results).",
        ),
    ] = False,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """List models, by public name then priority; retired ones only with --include-retired."""
    params = fields(name=name, include_retired="true" if include_retired else None)
    with connect(ctx) as api:
        params |= fields(provider_id=resolve.optional(api, resolve.provider, provider))
        models = api.get("/models", params=params)
    output.emit_list(
        models,
        as_json,
        MODEL_COLUMNS,
        ListView.of(wide, limit, no_pager),
        empty="no models; add one with `tollway models create`",
    )


@app.command("get")
def get_model(ctx: typer.Context, model_ref: ModelArg, as_json: JsonOption = False) -> None:
    """Show one model."""
    with connect(ctx) as api:
        model = api.get(f"/models/{resolve.model_or_retired(api, model_ref)}")
    output.emit(model, as_json, lambda: show_model(model))


@app.command("create")
def create_model(
    ctx: typer.Context,
    *,
    provider: Annotated[
        str, typer.Option(metavar="PROVIDER", help=f"Serving provider ({resolve.REF_HELP}).")
    ],
    model_id: Annotated[str, typer.Option("--model-id", help="The provider's own model id.")],
    name: Annotated[str, typer.Option(help="Public name agents ask for.")],
    description: DescriptionOption = None,
    version: VersionOption = None,
    architecture: ArchitectureOption = None,
    max_input_tokens: MaxInputOption = None,
    max_output_tokens: MaxOutputOption = None,
    openrouter_model_id: OpenRouterOption = None,
    streaming: StreamingOption = None,
    reasoning: ReasoningOption = None,
    priority: PriorityOption = None,
    weight: WeightOption = None,
    enabled: EnabledOption = None,
    skip_catalog_check: SkipCheckOption = False,
    as_json: JsonOption = False,
) -> None:
    """Publish a provider's model under a public name. The id is checked against the
    provider's catalog, which fills the limits and flags not given."""
    body = fields(
        model_id=model_id,
        name=name,
        description=description,
        version=version,
        architecture=architecture,
        max_input_tokens=max_input_tokens,
        max_output_tokens=max_output_tokens,
        openrouter_model_id=openrouter_model_id,
        supports_streaming=streaming,
        supports_reasoning=reasoning,
        priority=priority,
        weight=weight,
        enabled=enabled,
    )
    with connect(ctx) as api:
        body["provider_id"] = resolve.provider(api, provider)
        model = api.post("/models", body, params=_unchecked(skip_catalog_check))
    warn_catalog([model])
    output.emit(model, as_json, lambda: show_model(model))


@app.command("update")
def update_model(
    ctx: typer.Context,
    *,
    model: ModelArg,
    model_id: Annotated[str | None, typer.Option("--model-id", help="Provider's id.")] = None,
    name: Annotated[str | None, typer.Option(help="Public name.")] = None,
    description: DescriptionOption = None,
    version: VersionOption = None,
    architecture: ArchitectureOption = None,
    max_input_tokens: MaxInputOption = None,
    max_output_tokens: MaxOutputOption = None,
    openrouter_model_id: OpenRouterOption = None,
    streaming: StreamingOption = None,
    reasoning: ReasoningOption = None,
    priority: PriorityOption = None,
    weight: WeightOption = None,
    enabled: EnabledOption = None,
    skip_catalog_check: SkipCheckOption = False,
    as_json: JsonOption = False,
) -> None:
    """Change a model; options not given stay as they are. A new --model-id is checked
    against the provider's catalog."""
    body = changes(
        model_id=model_id,
        name=name,
        description=description,
        version=version,
        architecture=architecture,
        max_input_tokens=max_input_tokens,
        max_output_tokens=max_output_tokens,
        openrouter_model_id=openrouter_model_id,
        supports_streaming=streaming,
        supports_reasoning=reasoning,
        priority=priority,
        weight=weight,
        enabled=enabled,
    )
    with connect(ctx) as api:
        path = f"/models/{resolve.model(api, model)}"
        updated = api.patch(path, body, params=_unchecked(skip_catalog_check))
    warn_catalog([updated])
    output.emit(updated, as_json, lambda: show_model(updated))


@app.command("publish")
def publish_models(
    ctx: typer.Context,
    provider: Annotated[
        str, typer.Argument(metavar="PROVIDER", help=f"The provider ({resolve.REF_HELP}).")
    ],
    model_ids: Annotated[
        list[str], typer.Argument(metavar="MODEL_ID...", help="Ids from the provider's catalog.")
    ],
    *,
    as_name: Annotated[
        str | None,
        typer.Option("--as", metavar="NAME", help="Public name (one MODEL_ID only)."),
    ] = None,
    skip_catalog_check: SkipCheckOption = False,
    as_json: JsonOption = False,
    wide: WideOption = False,
    no_pager: NoPagerOption = False,
) -> None:
    """Publish catalog models, each under its own id as public name (or --as NAME).
    All or nothing: one id the catalog does not list publishes none."""
    if as_name is not None and len(model_ids) != 1:
        usage_error("--as names one model: give a single MODEL_ID with it")
    items = [{"model_id": model_id, **fields(name=as_name)} for model_id in model_ids]
    with connect(ctx) as api:
        path = f"/providers/{resolve.provider(api, provider)}/models:publish"
        created = api.post(path, {"models": items}, params=_unchecked(skip_catalog_check))
    warn_catalog(created)
    output.emit_list(
        created,
        as_json,
        (*MODEL_COLUMNS, *_WRITTEN),
        ListView.of(wide, None, no_pager),
        empty="nothing published",
    )


@app.command("delete")
def delete_model(
    ctx: typer.Context,
    model: ModelArg,
    *,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Refuse rather than retire a model that has verification results."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a model. One with verification results is retired instead: no longer
    routed to or listed, its results kept (`tollway models verifications`)."""
    with connect(ctx) as api:
        model_id = resolve.model(api, model)
        retired = api.delete(f"/models/{model_id}", params={"strict": "true"} if strict else None)
    if retired:
        result = {"id": model_id, "deleted": False, "retired": True}
        message = (
            f"retired model {model_id}: it has verification results, which are kept "
            f"(`tollway models verifications {model_id}`)"
        )
    else:
        result = {"id": model_id, "deleted": True, "retired": False}
        message = f"deleted model {model_id}"
    output.emit(result, as_json, lambda: output.done(message))


app.command("verify")(model_verify.verify_models)
app.command("verifications")(model_verify.list_verifications)
