"""A fake Infisical server speaking the HTTP API ``infisicalsdk`` uses, real error envelopes
included: universal-auth login, v3 raw secrets with version history, v2 folders. Tests
script failures with ``inject``/``expire_token`` and count calls through ``requests``."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

ErrorFault = Literal["rate_limit", "server_error", "forbidden", "expired", "unauthorized"]
Fault = ErrorFault | Literal["hang", "drop", "slow", "approval"]
Json = dict[str, Any]
_NOW = "2026-10-01T12:00:00.000Z"
_RATE_LIMITED = "Rate limit exceeded. Please try again in {seconds:g} seconds"
_FAULT_REPLIES = {
    "rate_limit": (429, "RateLimitExceeded", _RATE_LIMITED),
    "server_error": (500, "InternalServerError", "Something went wrong"),
    "forbidden": (403, "PermissionDenied", "You are not allowed to read on secrets"),
    "expired": (403, "TokenError", "Your token has expired. Please re-authenticate."),
    "unauthorized": (401, "UnauthorizedError", "Token missing or invalid"),
}


class _ReplyError(Exception):
    """An error reply in the server's envelope; raised to leave a route."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(status)
        request_id = f"req-{uuid.uuid4().hex[:12]}"
        self.status = status
        self.body = {"reqId": request_id, "statusCode": status, "message": message, "error": name}


def _trim(value: str) -> str:
    # The server trims values but keeps one trailing newline.
    return value.strip() + ("\n" if value.endswith("\n") else "")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Json
    token: str | None


@dataclass
class Injection:
    kind: Fault
    times: int = 1
    method: str | None = None
    path_prefix: str = "/api/v3/secrets"
    seconds: float = 1  # the wait a 429 asks for, or the delay of "slow"


@dataclass
class _Secret:
    id: str
    values: list[str] = field(default_factory=list)


class FakeInfisical:
    client_id, client_secret = "fake-client-id", "fake-client-secret"
    project_id, environment = "proj-1", "prod"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()  # ends every hanging request at stop()
        self._requests: list[RecordedRequest] = []
        self._injections: list[Injection] = []
        self._tokens: dict[str, bool] = {}  # token -> expired
        self._folders: set[str] = {"/"}
        self._secrets: dict[tuple[str, str], _Secret] = {}  # (folder, name)
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- scripting ---------------------------------------------------------------------
    def inject(self, kind: Fault, times: int = 1, **options: Any) -> None:
        """Answer the next ``times`` matching requests (see ``Injection``) with ``kind``."""
        with self._lock:
            self._injections.append(Injection(kind, times, **options))

    def clear_faults(self) -> None:
        with self._lock:
            self._injections.clear()

    def expire_token(self, token: str) -> None:
        with self._lock:
            self._tokens[token] = True

    @property
    def tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        matches = [r for r in self.requests if r.path.startswith(path_prefix)]
        return len([r for r in matches if method in (None, r.method)])

    def versions(self, folder: str, name: str) -> list[str]:
        with self._lock:
            secret = self._secrets.get((folder, name))
            return list(secret.values) if secret else []

    # -- request handling (called from handler threads) -------------------------------
    def _record(self, request: RecordedRequest) -> Injection | None:
        with self._lock:
            self._requests.append(request)
            for injection in self._injections:
                if (
                    injection.times > 0
                    and request.path.startswith(injection.path_prefix)
                    and (injection.method in (None, request.method))
                    and not (injection.kind == "approval" and request.method == "GET")
                ):
                    injection.times -= 1
                    return injection
        return None

    def _authorize(self, request: RecordedRequest) -> None:
        with self._lock:
            expired = self._tokens.get(request.token or "")
        if expired is None:
            raise _ReplyError(*_FAULT_REPLIES["unauthorized"])
        if expired:
            raise _ReplyError(*_FAULT_REPLIES["expired"])

    def _handle(self, request: RecordedRequest) -> Json:
        if request.path == "/api/v1/auth/universal-auth/login" and request.method == "POST":
            return self._login(request.body)
        self._authorize(request)
        source = request.query if request.method == "GET" else request.body
        if request.path.startswith("/api/v3/secrets/raw"):
            scope = (source.get("workspaceId"), source.get("environment"))
            if scope != (self.project_id, self.environment):
                raise _ReplyError(404, "NotFound", "Project or environment not found")
            folder = source.get("secretPath", "/").rstrip("/") or "/"
            name = request.path.removeprefix("/api/v3/secrets/raw").strip("/")
            with self._lock:
                return self._secret_route(request, folder, name)
        if request.path == "/api/v2/folders":
            with self._lock:
                return self._folder_route(request, source)
        raise _ReplyError(404, "NotFound", f"Route {request.method}:{request.path} not found")

    def _login(self, body: Json) -> Json:
        if (body.get("clientId"), body.get("clientSecret")) != (self.client_id, self.client_secret):
            raise _ReplyError(401, "UnauthorizedError", "Invalid credentials")
        token = f"tok-{secrets.token_hex(8)}"
        with self._lock:
            self._tokens[token] = False
        lifetime = {"expiresIn": 7200, "accessTokenMaxTTL": 7200}
        return {"accessToken": token, "tokenType": "Bearer", **lifetime}

    def _secret_json(self, folder: str, name: str, version: int, hidden: bool = False) -> Json:
        secret = self._secrets[(folder, name)]
        body: Json = {"id": secret.id, "_id": secret.id, "workspace": self.project_id}
        body |= {"environment": self.environment, "version": version, "type": "shared"}
        body |= {"secretKey": name, "secretComment": "", "createdAt": _NOW, "updatedAt": _NOW}
        body |= {"skipMultilineEncoding": False, "secretPath": folder, "tags": []}
        value = "<hidden-by-infisical>" if hidden else secret.values[version - 1]
        return body | {"secretValue": value, "secretValueHidden": hidden}

    def _secret_route(self, request: RecordedRequest, folder: str, name: str) -> Json:
        key, method = (folder, name), request.method
        if method == "GET" and not name:
            here = sorted((n, len(s.values)) for (f, n), s in self._secrets.items() if f == folder)
            hide = request.query.get("viewSecretValue") == "false"
            listed = [self._secret_json(folder, *h, hidden=hide) for h in here]
            return {"secrets": listed, "imports": []}
        if method == "POST":
            if folder not in self._folders:
                where = f"in environment with slug '{self.environment}'"
                raise _ReplyError(404, "NotFound", f"Folder with path '{folder}' {where} not found")
            if key in self._secrets:
                raise _ReplyError(400, "BadRequest", "Secret already exist")
            if "secretValue" not in request.body:
                raise _ReplyError(422, "ValidationFailure", "secretValue is required")
            self._secrets[key] = _Secret(str(uuid.uuid4()), [_trim(request.body["secretValue"])])
            return {"secret": self._secret_json(folder, name, 1)}
        secret = self._secrets.get(key)
        if secret is None:
            raise _ReplyError(404, "NotFound", f"Secret with name '{name}' not found")
        if method == "PATCH":
            secret.values.append(_trim(request.body.get("secretValue", secret.values[-1])))
        elif method == "DELETE":
            reply = self._secret_json(folder, name, len(secret.values))
            del self._secrets[key]
            return {"secret": reply}
        version = int(request.query.get("version") or len(secret.values))
        if not 1 <= version <= len(secret.values):
            raise _ReplyError(404, "NotFound", f"Secret version {version} of '{name}' not found")
        hidden = request.query.get("viewSecretValue") == "false"
        return {"secret": self._secret_json(folder, name, version, hidden)}

    def _folder_route(self, request: RecordedRequest, source: Json) -> Json:
        parent = source.get("path", "/").rstrip("/") or "/"
        if request.method == "GET":
            children = sorted(
                f for f in self._folders if f != "/" and f.rsplit("/", 1)[0] == parent.rstrip("/")
            )
            return {"folders": [self._folder_json(f) for f in children]}
        path = f"{parent.rstrip('/')}/{source['name']}"
        # Upsert, creating missing parents like the current server does.
        parts = path.strip("/").split("/")
        self._folders.update("/" + "/".join(parts[: i + 1]) for i in range(len(parts)))
        return {"folder": self._folder_json(path)}

    def _folder_json(self, path: str) -> Json:
        folder_id, name = str(uuid.uuid5(uuid.NAMESPACE_URL, path)), path.rsplit("/", 1)[1]
        body: Json = {"id": folder_id, "name": name, "envId": "env-1", "path": path}
        return body | {"createdAt": _NOW, "updatedAt": _NOW, "version": 1, "isReserved": False}

    def _fault(self, handler: _Handler, injection: Injection) -> Json | None:
        kind = injection.kind
        if kind in ("hang", "drop"):  # no answer at all: the client sees a timeout or EOF
            if kind == "hang":
                self._release.wait()
            handler.close_connection = True
            return None
        if kind == "slow":
            time.sleep(injection.seconds)
            return self._handle(handler.recorded)
        if kind == "approval":
            return {"approval": {"id": str(uuid.uuid4()), "status": "open", "slug": "change-1"}}
        status, name, message = _FAULT_REPLIES[kind]
        raise _ReplyError(status, name, message.format(seconds=injection.seconds))


class _Handler(BaseHTTPRequestHandler):
    fake: FakeInfisical
    recorded: RecordedRequest

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization") or ""
        body, token = json.loads(raw) if raw else {}, auth.removeprefix("Bearer ") or None
        self.recorded = RecordedRequest(
            self.command, url.path, dict(parse_qsl(url.query)), body, token
        )
        injection = self.fake._record(self.recorded)
        try:
            fake = self.fake
            reply = fake._fault(self, injection) if injection else fake._handle(self.recorded)
        except _ReplyError as error:
            self._send(error.status, error.body)
            return
        if reply is not None:
            self._send(200, reply)

    def _send(self, status: int, body: Json) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may have timed out and gone
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _dispatch  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        return None
