"""What tollway keeps of /v1/responses answers, so an agent can continue a
conversation by ``previous_response_id`` on any provider, and read (``GET``) or
delete its stored responses.

INTERFACE ONLY for now: the storage (per tollway key, with retention) is being built.
Until then nothing is remembered and a ``previous_response_id`` is not found.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollway.domain.v1_errors import invalid_request
from tollway.routing.table import CallerKey


class ResponsesMemory:
    async def expand(self, caller: CallerKey, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` as the upstream gets it: a ``previous_response_id`` replaced by the
        conversation's earlier input and output items in front of ``input``, and
        ``store`` off (tollway stores, the upstream never does)."""
        previous = body.get("previous_response_id")
        if previous is not None:
            raise invalid_request(
                f"Previous response with id '{previous}' not found.", "previous_response_id"
            )
        return body

    async def remember(
        self,
        caller: CallerKey,
        request_body: Mapping[str, Any],
        response: Mapping[str, Any],
    ) -> None:
        """Keep ``response`` (a complete ``response`` object, as the client received it)
        and the input that produced it, unless the request said ``store: false``."""
        return
