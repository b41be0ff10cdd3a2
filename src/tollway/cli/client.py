"""A small client of the admin REST API, for the CLI commands.

Every failure becomes a ``CliError`` carrying the process exit code, a one-line
message and a hint of what to do next; ``connect`` turns it into that exit code.
The admin token is sent in a header and never appears in a message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NoReturn

import httpx
import typer

from tollway.cli import output

DEFAULT_URL = "http://127.0.0.1:4000"
API_PREFIX = "/admin/v1"
DEFAULT_TIMEOUT = 30.0
# Testing keys waits on the providers themselves (timeout per key, keys in batches).
SLOW_TIMEOUT = 180.0

Params = Mapping[str, Any]


class ExitCode(IntEnum):
    OK = 0
    REFUSED = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    UNAVAILABLE = 5
    KEY_NOT_VALID = 6


EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 the server refused the request (invalid input, conflict); "
    "2 usage error (or an ambiguous name); 3 not found; 4 authentication failed or no "
    "admin token; 5 server unreachable or failing; 6 a tested provider key is not valid."
)

_UNREACHABLE_HINT = (
    "start the server with `make run` (or `tollway serve`), "
    "or set TOLLWAY_URL (or --url) to where it runs"
)
_SET_ADMIN_HINT = (
    "set TOLLWAY_ADMIN_TOKEN to the admin token `tollway serve` printed on its first start"
)


class CliError(Exception):
    """A failure the CLI reports on one line and turns into an exit code."""

    def __init__(self, code: ExitCode, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class ClientConfig:
    url: str
    # Kept out of repr so a debug print of the config cannot show it.
    token: str | None

    def __repr__(self) -> str:
        return f"ClientConfig(url={self.url!r}, token={'***' if self.token else None})"

    @classmethod
    def from_environment(cls) -> ClientConfig:
        return cls(
            url=os.environ.get("TOLLWAY_URL") or DEFAULT_URL,
            token=os.environ.get("TOLLWAY_ADMIN_TOKEN") or None,
        )


def display_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "(an invalid URL)"
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url


def _plain_http_transport(url: str) -> httpx.BaseTransport | None:
    """For an http:// server, a transport that skips loading the CA bundle.

    Plain HTTP never does TLS and redirects are not followed, so there is nothing to
    verify; loading the bundle anyway costs ~40 ms per command. https:// URLs keep
    httpx's default, fully verifying transport (None here).
    """
    try:
        scheme = httpx.URL(url).scheme
    except httpx.InvalidURL:
        return None
    return httpx.HTTPTransport(verify=False) if scheme == "http" else None


class AdminClient:
    """One ``httpx.Client`` against ``{url}/admin/v1``; methods return decoded JSON."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._config = config
        self._http = httpx.Client(
            base_url=config.url.rstrip("/") + API_PREFIX,
            timeout=timeout,
            transport=transport or _plain_http_transport(config.url),
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, path: str, params: Params | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(
        self,
        path: str,
        body: object = None,
        params: Params | None = None,
        timeout: float | None = None,
    ) -> Any:
        return self.request("POST", path, body=body, params=params, timeout=timeout)

    def patch(self, path: str, body: object, params: Params | None = None) -> Any:
        return self.request("PATCH", path, body=body, params=params)

    def delete(self, path: str, params: Params | None = None) -> Any:
        return self.request("DELETE", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: Params | None = None,
        timeout: float | None = None,
    ) -> Any:
        token = self._config.token
        if not token:
            raise CliError(ExitCode.AUTH, "no admin token configured", _SET_ADMIN_HINT)
        kwargs: dict[str, Any] = {"params": dict(params) if params else None}
        if body is not None:
            kwargs["json"] = body
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            response = self._http.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        return self._decode(response)

    def _unreachable(self, exc: httpx.TransportError) -> CliError:
        reason = type(exc).__name__
        if isinstance(exc, httpx.ConnectError):
            reason = "connection refused or host unknown"
        elif isinstance(exc, httpx.TimeoutException):
            reason = "timed out"
        where = display_url(self._config.url)
        return CliError(
            ExitCode.UNAVAILABLE, f"cannot reach tollway at {where}: {reason}", _UNREACHABLE_HINT
        )

    def _decode(self, response: httpx.Response) -> Any:
        if response.is_success:
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise CliError(
                    ExitCode.UNAVAILABLE,
                    f"{display_url(self._config.url)} answered with something other than JSON",
                    "check that TOLLWAY_URL points at a tollway server",
                ) from None
        raise error_for(response)


def server_message(response: httpx.Response) -> str:
    """The server's error message from ``{"error": {"message"}}``, else the HTTP reason."""
    try:
        body = response.json()
        message = body["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code} {response.reason_phrase}".strip()
    # One line: a multi-line message would break scripts that read stderr by line.
    return " ".join(str(message).split())


def error_for(response: httpx.Response) -> CliError:
    status = response.status_code
    message = server_message(response)
    if status == 401:
        return CliError(ExitCode.AUTH, message, f"check TOLLWAY_ADMIN_TOKEN; {_SET_ADMIN_HINT}")
    if status == 404:
        return CliError(
            ExitCode.NOT_FOUND, message, "check the id; the `list` command shows existing ones"
        )
    if status >= 500:
        return CliError(
            ExitCode.UNAVAILABLE,
            message,
            "the server failed; check its log, retry later, or check TOLLWAY_URL",
        )
    return CliError(ExitCode.REFUSED, message, _catalog_hint(response) or _refusal_hint(status))


def _catalog_hint(response: httpx.Response) -> str | None:
    """For ids a provider's catalog does not list: the closest ones it does."""
    try:
        error = response.json()["error"]
        unknown = error["details"]["unknown"] if error["code"] == "model_not_in_catalog" else []
        pairs = [(str(u["model_id"]), [str(s) for s in u["suggestions"]]) for u in unknown]
    except (ValueError, KeyError, TypeError):
        return None
    lines = [
        f"{model_id}: did you mean {' or '.join(close)}?"
        if close
        else f"{model_id}: nothing close; `tollway catalog list PROVIDER` shows the ids"
        for model_id, close in pairs
    ]
    if not lines:
        return None
    return "; ".join(lines) + " (--skip-catalog-check publishes an id unchecked)"


def _refusal_hint(status: int) -> str:
    if status == 409:
        return "the request conflicts with the current state; see the message above"
    if status == 422:
        return "fix the values named above and retry; `--help` lists the options"
    return "see the message above; `--help` lists the options"


def config_of(ctx: typer.Context | None) -> ClientConfig:
    """The config the root command stored, else the environment's."""
    obj = ctx.find_root().obj if ctx is not None else None
    return obj if isinstance(obj, ClientConfig) else ClientConfig.from_environment()


@contextmanager
def connect(ctx: typer.Context | None) -> Iterator[AdminClient]:
    """A client for one command; a ``CliError`` inside ends the command with its code."""
    try:
        with AdminClient(config_of(ctx)) as client:
            yield client
    except CliError as error:
        fail(error)


def fail(error: CliError) -> NoReturn:
    output.error(error.message, error.hint)
    raise typer.Exit(int(error.code))


def fields(**values: object) -> dict[str, object]:
    """A request body from the options that were given (None means "not given")."""
    return {name: value for name, value in values.items() if value is not None}


def changes(**values: object) -> dict[str, object]:
    """An update body; refuses an empty one, which would be a no-op the user did not mean."""
    body = fields(**values)
    if not body:
        usage_error("nothing to update: pass at least one option")
    return body


def usage_error(message: str, hint: str = "see --help for the options") -> NoReturn:
    """A mistake in how the command was called, found after parsing: exit code 2."""
    output.error(message, hint)
    raise typer.Exit(int(ExitCode.USAGE))
