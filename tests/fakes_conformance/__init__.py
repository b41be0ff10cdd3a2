"""Conformance of the fake providers with the real litellm and openai SDKs."""

import os

# litellm reads these at import time; without them it fetches its cost map online.
# Set here, in the package, so they are in place before any module imports litellm.
for _name, _value in (
    ("LITELLM_OFFLINE_MODE", "true"),
    ("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
    ("LITELLM_TELEMETRY_DISABLED", "true"),
):
    os.environ.setdefault(_name, _value)
