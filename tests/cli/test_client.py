"""``AdminClient`` on its own: HTTP answers to exit codes, with a mock transport."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tollway.cli.client import AdminClient, ClientConfig, CliError, ExitCode, display_url

TOKEN = "twadmin-unit-test-token-000000000"


def client_for(
    handler: Callable[[httpx.Request], httpx.Response], token: str | None = TOKEN
) -> AdminClient:
    config = ClientConfig(url="http://tollway.test", token=token)
    return AdminClient(config, transport=httpx.MockTransport(handler))


def error_body(status: int, message: str) -> Callable[[httpx.Request], httpx.Response]:
    body = {"error": {"code": "x", "message": message, "details": None}}
    return lambda _request: httpx.Response(status, json=body)


def failure(client: AdminClient) -> CliError:
    with pytest.raises(CliError) as caught:
        client.get("/providers")
    return caught.value


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, ExitCode.REFUSED),
        (401, ExitCode.AUTH),
        (404, ExitCode.NOT_FOUND),
        (409, ExitCode.REFUSED),
        (422, ExitCode.REFUSED),
        (500, ExitCode.UNAVAILABLE),
        (503, ExitCode.UNAVAILABLE),
    ],
)
def test_status_to_exit_code(status: int, code: ExitCode) -> None:
    error = failure(client_for(error_body(status, "the server's words")))
    assert (error.code, error.message) == (code, "the server's words")
    assert error.hint


def test_sends_the_token_and_decodes_json() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{"id": "a"}])

    assert client_for(handler).get("/providers", params={"x": 1}) == [{"id": "a"}]
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert str(seen[0].url) == "http://tollway.test/admin/v1/providers?x=1"


def test_no_token_fails_before_any_request() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    error = failure(client_for(handler, token=None))
    assert error.code is ExitCode.AUTH
    assert "TOLLWAY_ADMIN_TOKEN" in (error.hint or "")


def test_a_multi_line_message_becomes_one_line() -> None:
    error = failure(client_for(error_body(422, "first\nsecond  line")))
    assert error.message == "first second line"


def test_non_json_answers() -> None:
    error = failure(client_for(lambda _r: httpx.Response(404, text="<html>nope</html>")))
    assert (error.code, error.message) == (ExitCode.NOT_FOUND, "HTTP 404 Not Found")
    error = failure(client_for(lambda _r: httpx.Response(200, text="<html>hello</html>")))
    assert error.code is ExitCode.UNAVAILABLE
    assert client_for(lambda _r: httpx.Response(204)).delete("/teams/x") is None


def test_transport_errors_mean_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    error = failure(client_for(refuse))
    assert error.code is ExitCode.UNAVAILABLE
    assert "http://tollway.test" in error.message
    assert "make run" in (error.hint or "")


def test_secrets_stay_out_of_reprs_and_messages() -> None:
    assert TOKEN not in repr(ClientConfig(url="http://x", token=TOKEN))
    assert display_url("http://user:pw@host:4000/") == "http://host:4000/"
    assert display_url("http://host:4000") == "http://host:4000"
