"""The one place that prepares LiteLLM's environment before it is imported.

Importing litellm reads its environment once: without the offline variables it
first tries to fetch its price map from GitHub (up to 5 s on a network that drops
packets) and starts its telemetry machinery. So nothing imports litellm at module
level; engines call ``load_litellm()``, which sets the variables (without
overriding an operator's explicit choice) and then imports it.

It also turns off LiteLLM's own logging of request bodies: provider keys travel
in those kwargs, and keys must never reach a log.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping, MutableMapping
from types import MappingProxyType, ModuleType
from typing import Any

# All three are needed for a start that makes no outbound connection: without the first
# two, `import litellm` first tries to fetch the model cost map from GitHub (a 5 s
# synchronous attempt, then retries in a thread); the third vetoes LiteLLM's telemetry.
OFFLINE_ENV: Mapping[str, str] = MappingProxyType(
    {
        "LITELLM_OFFLINE_MODE": "true",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY_DISABLED": "true",
    }
)

LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def offline_env() -> dict[str, str]:
    """The variables a LiteLLM process (or this one) needs to stay offline."""
    return dict(OFFLINE_ENV)


def apply_offline_env(environ: MutableMapping[str, str] | None = None) -> None:
    """Set the offline variables in ``environ`` (default: this process) unless already set."""
    target: MutableMapping[str, str] = os.environ if environ is None else environ
    for name, value in OFFLINE_ENV.items():
        target.setdefault(name, value)


def load_litellm(*, redact_messages: bool = False) -> ModuleType:
    """Import litellm offline and quiet. Idempotent; the first call costs ~2.5 s of import.

    ``redact_messages`` turns on LiteLLM's ``turn_off_message_logging``: only worth it
    when LiteLLM logging callbacks are registered (tollway registers none), because it
    deep-copies every request and response (~2 ms per call, measured).
    """
    apply_offline_env()
    litellm = importlib.import_module("litellm")
    quiet_litellm(litellm, redact_messages=redact_messages)
    return litellm


def quiet_litellm(litellm: ModuleType, *, redact_messages: bool = False) -> None:
    """Keep request bodies (and the keys in their kwargs) out of every log.

    ``suppress_debug_info`` stops the "Give Feedback" banners printed on each error.
    LiteLLM's loggers stay at WARNING even when the app runs at DEBUG (their DEBUG
    lines dump whole call kwargs), unless the operator asked for more with
    LITELLM_LOG. They do not propagate: LiteLLM has its own (secret-filtering)
    handler, and propagating would print every line twice. Message redaction for
    logging callbacks is on when asked for, or when callbacks are already registered.
    """
    module: Any = litellm  # module attributes LiteLLM reads as settings
    module.suppress_debug_info = True
    module.set_verbose = False
    registered = any(
        getattr(module, name, None)
        for name in ("callbacks", "success_callback", "failure_callback")
    )
    module.turn_off_message_logging = redact_messages or registered
    explicit = os.environ.get("LITELLM_LOG")
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        if explicit is None:
            logger.setLevel(logging.WARNING)
        logger.propagate = False
