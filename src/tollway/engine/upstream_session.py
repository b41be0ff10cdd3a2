"""tollway's own pooled client for requests LiteLLM built but tollway sends.

The pass-through route asks LiteLLM's provider configuration for the URL and the
headers of a call, then sends it here: one guarded aiohttp session per event loop
(``tollway.net.aiohttp_guard``: every address checked before a socket opens, no
proxy from the environment), keep-alive sockets as LiteLLM's own transport makes
them, redirects never followed. Going through httpx on top of aiohttp, as LiteLLM's
handlers do, doubled the work of every request and every chunk read.

Failures come out as the engine contract's errors: a refused address or redirect as
``refusal_error``, a timeout as a 504, anything else on the wire as a 502 naming the
failure's type, never its text (it can quote the URL).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import aiohttp

from tollway.engine.base import EngineError
from tollway.engine.http_common import CONNECT_TIMEOUT_SECONDS
from tollway.engine.outbound import find_refusal, refusal_error
from tollway.engine.wire import upstream_error
from tollway.net.aiohttp_guard import SocketFactory, guarded_session_factory
from tollway.net.guard import OutboundPolicy, OutboundRefused, RedirectRefused, is_redirect

# What can fail between tollway and the provider (a refusal is raised from the
# resolver or the socket factory, under aiohttp's own wrapping or not).
WIRE_ERRORS = (aiohttp.ClientError, OSError, OutboundRefused)


class UpstreamSession:
    """Sends prepared requests through one guarded session per event loop."""

    def __init__(self, policy: OutboundPolicy, socket_options: SocketFactory | None) -> None:
        self._make = guarded_session_factory(policy, socket_options=socket_options)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, seconds: float
    ) -> aiohttp.ClientResponse:
        """The upstream's answer, its body unread; the caller releases it. A redirect
        is refused, its body never read."""
        try:
            response = await self._current().post(
                url,
                data=body,
                headers=headers,
                timeout=self._timeout(seconds),
                allow_redirects=False,
            )
        except WIRE_ERRORS as exc:
            raise send_error(exc) from None
        if is_redirect(response.status):
            response.release()
            raise refusal_error(RedirectRefused(response.status, None))
        return response

    async def aclose(self) -> None:
        if self._loop is not asyncio.get_running_loop():
            self._abandon()
        elif self._session is not None and not self._session.closed:
            with contextlib.suppress(Exception):
                await self._session.close()
        self._session, self._loop = None, None

    def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._abandon()
            self._session, self._loop = self._make(), loop
        return self._session

    def _abandon(self) -> None:
        """Drop a session made on another (by now usually closed) loop: its sockets
        belong to that loop and cannot be awaited from this one."""
        session, loop = self._session, self._loop
        if session is None or session.closed:
            return
        if loop is not None and not loop.is_closed() and loop.is_running():
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(session.close()))
            return
        connector: Any = session.connector
        with contextlib.suppress(Exception):
            connector._close()  # the sync half of close(): no loop is left to await on
        session.detach()

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=None,
                sock_connect=min(CONNECT_TIMEOUT_SECONDS, seconds),
                sock_read=seconds,
            )
        return timeout


def send_error(exc: BaseException) -> EngineError:
    """The contract error for a request or read that failed on the wire (``WIRE_ERRORS``)."""
    if (refusal := find_refusal(exc)) is not None:
        return refusal_error(refusal)
    if isinstance(exc, TimeoutError):
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return _unreachable(exc)
        return upstream_error(
            504, "the provider did not answer in time", error_type="timeout", code="timeout"
        )
    return _unreachable(exc)


def _unreachable(exc: BaseException) -> EngineError:
    cause = type(exc).__name__
    return upstream_error(502, f"provider unreachable ({cause})", code="upstream_unreachable")
