"""A reverse proxy that serves an upstream under a path prefix, stripping it.

``/prefix/console/login`` is forwarded as ``/console/login``; a path outside the
prefix is a 404. Answers (redirects included) come back as they are: the upstream
must know its root path to build links and redirects under the prefix, which is
what tests of ``server.root_path`` check. Like Caddy, Traefik and nginx-ingress, it
sends the upstream its own Host and says where the client was in
``X-Forwarded-Host`` and ``-Proto``; other headers (``Origin`` among them) pass as
they came. 127.0.0.1 on a free port, one thread.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import httpx

from tests.fakes.ports import free_port

# Hop-by-hop headers and the ones the proxy recomputes.
_DROPPED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}
)


class PrefixProxy:
    def __init__(self, upstream: str, prefix: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.prefix = prefix.rstrip("/")
        self.port = free_port()
        self.requests: list[str] = []  # the upstream paths forwarded, in order
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._client = httpx.Client(follow_redirects=False, timeout=30)

    @property
    def base_url(self) -> str:
        """The proxy's URL including the prefix."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def __enter__(self) -> PrefixProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._client.close()

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> httpx.Response | None:
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            return None
        stripped = path[len(self.prefix) :] or "/"
        self.requests.append(stripped)
        sent = {k: v for k, v in headers.items() if k.lower() not in _DROPPED}
        host = next((v for k, v in headers.items() if k.lower() == "host"), None)
        if host:
            sent["x-forwarded-host"] = host
        sent["x-forwarded-proto"] = "http"
        return self._client.request(method, self.upstream + stripped, headers=sent, content=body)


def _handler(proxy: PrefixProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = proxy.forward(self.command, self.path, dict(self.headers.items()), body)
            if answer is None:
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            self.send_response(answer.status_code)
            for name, value in answer.headers.multi_items():
                if name.lower() not in _DROPPED and name.lower() != "content-encoding":
                    self.send_header(name, value)
            self.send_header("content-length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: tests read ``proxy.requests``

    return Handler
