"""The OpenTelemetry GenAI semantic conventions' names, in their Prometheus spelling.

tollway's request duration, time to first token and token usage follow the
conventions (``gen_ai.server.request.duration``, ``gen_ai.server.time_to_first_token``,
``gen_ai.client.token.usage``): dots become underscores, and the unit's suffix is
``_seconds`` for seconds and nothing for ``{token}``. Their attributes become the
labels below. Cost, quotas, the ledger, fallbacks and the circuit breaker are not
covered by the conventions: those keep tollway's own ``tollway_*`` names.
"""

from __future__ import annotations

OPERATION = "gen_ai_operation_name"
PROVIDER = "gen_ai_provider_name"
REQUEST_MODEL = "gen_ai_request_model"
TOKEN_TYPE = "gen_ai_token_type"  # noqa: S105 (a label name, not a secret)
LABELS = (OPERATION, PROVIDER, REQUEST_MODEL)

# tollway's /v1 endpoints -> the conventions' gen_ai.operation.name. The Responses
# and Messages APIs are chat dialects: the conventions name them "chat" too.
_OPERATIONS = {
    "chat": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
    "responses": "chat",
    "messages": "chat",
}
# tollway's provider types -> gen_ai.provider.name. The conventions' well-known
# values where one exists; the type itself (a custom value, as they allow) otherwise.
_PROVIDERS = {
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
}
UNKNOWN_PROVIDER = "unknown"  # a provider the routing table no longer knows

# gen_ai.client.token.usage's bucket boundaries, as the conventions advise.
TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)


def operation_name(endpoint: str) -> str:
    return _OPERATIONS.get(endpoint, endpoint)


def provider_name(provider_type: str) -> str:
    return _PROVIDERS.get(provider_type, provider_type)
