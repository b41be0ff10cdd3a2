"""Fake LLM provider servers: real HTTP on 127.0.0.1, each family's own wire shapes.

One ``FakeProviderServer`` speaks one family's dialect (``openai``, ``openrouter``,
``anthropic``, ``gemini``, ``cohere``): auth headers, model lists, inference
endpoints (chat, streaming, completions, embeddings) and error envelopes as the
real provider sends them. Scripted by key value and by model name::

    with FakeProviderServer("anthropic", keys={"good": Behaviour.ok(),
                                               "busy": Behaviour.rate_limited("7")}) as server:
        server.script_model("claude-slow", ModelBehaviour.slow_chunks(0.2))
        server.script_model("claude-cut", ModelBehaviour.reset_after(chunks=2))
        ...  # point litellm or an adapter at server.origin / server.base_url
        assert len(server.requests_for_model("claude-cut")) == 1

For differential tests a model can answer with exactly what the test gives::

        server.script_model("m", ModelBehaviour.canned(body={...}, chunks=[{...}, {...}]))
        # JSON calls get ``body``; streamed calls get each chunk as ``data: <json>``
        # then ``data: [DONE]`` (``done=False`` leaves it out); bytes chunks go verbatim;
        # ``status=`` answers ``body`` with another status (a canned error).
        server.requests_for_model("m")[-1].body  # what the upstream received

A model can refuse one feature of a call and answer the rest, the way one verification
test type fails::

        server.script_model("m", ModelBehaviour.refusing_features("image"))  # or stream,
        # tools, json: detected as each family's wire spells them (``features``)

Unknown keys get the family's "bad key" answer, on every route. Unscripted
models echo the last user message, with word-count token usage. A request
header ``x-fake-behaviour: <kind>[:<arg>]`` overrides the model script for that
request. Every request is recorded with its headers and parsed JSON body.

Model lists are scripted by key too (``server.script_listing(key, ListingScript(...))``):
paging size, a missing list endpoint, errors with Retry-After, malformed bodies.

Modules: ``scripting`` (Behaviour, ModelBehaviour, ListingScript), ``features`` (what a call
uses), ``server`` (lifecycle, log),
``base`` (key gate, inference pipeline, scripted streams), ``wire`` (shared
shapes), one ``*_api`` module per family.
"""

from __future__ import annotations

from tests.fakes.providers.base import FamilyRouter, Gate
from tests.fakes.providers.families import family_for, router_class
from tests.fakes.providers.openrouter_api import openrouter_cost
from tests.fakes.providers.scripting import (
    BEHAVIOUR_HEADER,
    HANG_SECONDS,
    Behaviour,
    BehaviourKind,
    Family,
    ListingScript,
    ModelBehaviour,
)
from tests.fakes.providers.server import (
    FakeProviderServer,
    RecordedRequest,
    running_server,
    stop_all,
)
from tests.fakes.providers.wire import count_tokens

__all__ = [
    "BEHAVIOUR_HEADER",
    "HANG_SECONDS",
    "Behaviour",
    "BehaviourKind",
    "FakeProviderServer",
    "Family",
    "FamilyRouter",
    "Gate",
    "ListingScript",
    "ModelBehaviour",
    "RecordedRequest",
    "count_tokens",
    "family_for",
    "openrouter_cost",
    "router_class",
    "running_server",
    "stop_all",
]
