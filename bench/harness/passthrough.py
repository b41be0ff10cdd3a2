"""A bare aiohttp passthrough: the floor for a Python gateway that forwards bytes.

Every request is forwarded to the same path on the upstream through one pooled
ClientSession; the answer streams back chunk by chunk as it arrives, unparsed.
Run: python bench/harness/passthrough.py PORT UPSTREAM_URL
"""

from __future__ import annotations

import sys

from aiohttp import ClientSession, TCPConnector, web

_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection"}


def make_app(upstream: str) -> web.Application:
    app = web.Application()

    async def open_session(app: web.Application) -> None:
        app["session"] = ClientSession(connector=TCPConnector(limit=256), auto_decompress=False)

    async def close_session(app: web.Application) -> None:
        await app["session"].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        session: ClientSession = request.app["session"]
        async with session.post(upstream + request.path, data=body, headers=headers) as answer:
            response = web.StreamResponse(status=answer.status)
            response.content_type = answer.content_type
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    web.run_app(make_app(upstream), host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
