"""Re-extract the pinned answer schemas the conformance suite validates against.

    python -m tests.conformance.regenerate openai <openapi.json> <commit>
    python -m tests.conformance.regenerate anthropic

``openai``: from a checkout (or ``git show <commit>:openapi.json``) of
github.com/openai/openai-openapi, the ``$ref`` closure of the answer components in
``OPENAI_ROOTS``, descriptions and examples removed, written to
``tests/inference/openai_schema/answers.json`` (MIT, LICENSE beside it).

``anthropic``: Anthropic publishes no OpenAPI document, so the schemas are derived from
the installed ``anthropic`` SDK's pydantic types (Apache-2.0 since SDK 2.0, earlier
versions MIT: LICENSE and LICENSE-MIT beside the output, copied from the wheel), and
written to ``tests/conformance/anthropic_schema/messages.json`` with the SDK version.
Running either twice on the same input writes the same bytes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import anthropic.types
from pydantic import TypeAdapter

HERE = Path(__file__).parent
OPENAI_OUT = HERE.parent / "inference" / "openai_schema" / "answers.json"
ANTHROPIC_OUT = HERE / "anthropic_schema" / "messages.json"

OPENAI_ROOTS = (
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "CreateCompletionResponse",
    "CreateEmbeddingResponse",
    "ListModelsResponse",
    "Model",
    "ErrorResponse",
    "Response",
    "ResponseStreamEvent",
)
# Documentation only; dropping them keeps the excerpt a fraction of the document's size.
DROPPED_KEYS = frozenset(
    {"description", "example", "examples", "title", "deprecated", "x-oaiMeta", "x-oaiTypeLabel"}
    | {"x-oaiExpandable", "x-stainless-const", "x-stainless-skip", "x-oaiSupportedSDKs"}
)

ANTHROPIC_TYPES = (
    "Message",
    "RawMessageStreamEvent",
    "RawMessageStartEvent",
    "RawMessageDeltaEvent",
    "RawMessageStopEvent",
    "RawContentBlockStartEvent",
    "RawContentBlockDeltaEvent",
    "RawContentBlockStopEvent",
    "ErrorResponse",
    "MessageTokensCount",
)

# Documented as always present in Anthropic's API reference (null until known); the SDK's
# types default them to None, which would let an answer that omits them pass.
ALWAYS_SENT = {"Message": ("stop_reason", "stop_sequence")}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _closure(schemas: dict[str, Any], roots: tuple[str, ...]) -> list[str]:
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(_refs(schemas[name]))
    return sorted(seen)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0's ``nullable: true`` (still used in places of this 3.1 document) as
    JSON Schema: without it a validator would reject the nulls the authors allow."""
    rest = {k: v for k, v in schema.items() if k != "nullable"}
    if not schema.get("nullable"):
        return rest
    return {"anyOf": [rest, {"type": "null"}]}


def _clean(node: Any, in_properties: bool = False) -> Any:
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    if in_properties:  # keys are property names, never keywords
        return {key: _clean(value) for key, value in node.items()}
    kept = {
        key: _clean(value, in_properties=key in ("properties", "patternProperties"))
        for key, value in node.items()
        if key not in DROPPED_KEYS
    }
    return _nullable(kept)


def openai_excerpt(document: dict[str, Any], commit: str) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    return {
        "x-source": {
            "repository": "https://github.com/openai/openai-openapi",
            "commit": commit,
            "path": "openapi.json",
            "licence": "MIT (LICENSE beside this file)",
            "extract": (
                "the $ref closure of components.schemas " + ", ".join(OPENAI_ROOTS) + "; "
                "descriptions, examples and x-oai/x-stainless annotations removed; "
                "OpenAPI 3.0 'nullable: true' rewritten as anyOf [schema, null]; "
                "regenerate with `python -m tests.conformance.regenerate openai`"
            ),
        },
        "components": {
            "schemas": {name: _clean(schemas[name]) for name in _closure(schemas, OPENAI_ROOTS)}
        },
    }


def anthropic_schemas() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    roots: dict[str, Any] = {}
    for name in ANTHROPIC_TYPES:
        schema = TypeAdapter(getattr(anthropic.types, name)).json_schema(
            ref_template="#/$defs/{model}", mode="serialization"
        )
        defs.update(schema.pop("$defs", {}))
        roots[name] = schema
    for name, schema in roots.items():
        defs.setdefault(name, schema)
    for name, fields in ALWAYS_SENT.items():
        defs[name]["required"] = sorted({*defs[name]["required"], *fields})
    return {
        "x-source": {
            "package": "anthropic (PyPI), https://github.com/anthropics/anthropic-sdk-python",
            "version": metadata.version("anthropic"),
            "licence": "Apache-2.0 (LICENSE beside this file; LICENSE-MIT for versions before 2.0)",
            "extract": (
                "pydantic TypeAdapter(anthropic.types.<name>).json_schema(mode='serialization') "
                "for " + ", ".join(ANTHROPIC_TYPES) + "; Message.stop_reason and stop_sequence "
                "made required (nullable): the SDK defaults them, the API always sends them; "
                "regenerate with "
                "`python -m tests.conformance.regenerate anthropic`"
            ),
        },
        "$defs": dict(sorted(defs.items())),
    }


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    print(f"wrote {path} ({len(data.get('$defs') or data['components']['schemas'])} schemas)")


def main(argv: list[str]) -> int:
    match argv:
        case ["openai", source, commit]:
            _write(OPENAI_OUT, openai_excerpt(json.loads(Path(source).read_text()), commit))
        case ["anthropic"]:
            _write(ANTHROPIC_OUT, anthropic_schemas())
        case _:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
