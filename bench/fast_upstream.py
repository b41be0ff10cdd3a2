"""A fast OpenAI-compatible upstream for benchmarks: canned answers, no work.

aiohttp, not uvicorn+FastAPI: the upstream must never be the bottleneck
(~6,900 req/s per core here). Run: python bench/fast_upstream.py PORT
"""

from __future__ import annotations

import sys
import time

from aiohttp import web

CHAT = (
    b'{"id":"chatcmpl-bench","object":"chat.completion","created":%d,"model":"bench",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}'
)
CHUNK = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":%d,"model":"bench",'
    b'"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}\n\n'
)
USAGE = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":%d,"model":"bench",'
    b'"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}\n\n'
)


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    now = int(time.time())
    if not body.get("stream"):
        return web.Response(body=CHAT % now, content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(CHUNK % now)
    await response.write(USAGE % now)
    await response.write(b"data: [DONE]\n\n")
    return response


async def models(_request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "bench", "object": "model"}]})


def main() -> None:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
