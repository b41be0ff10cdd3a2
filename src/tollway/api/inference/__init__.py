"""/v1: the OpenAI-compatible data plane, on a lean route (no dependency injection)."""
