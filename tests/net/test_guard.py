"""The guarded clients dial only vetted addresses and never follow a redirect.

Names resolve through ``StaticResolver`` (no real DNS); the conftest guard turns
any attempt to dial a non-loopback address into a failure, so "refused" here
means no socket was ever opened towards it.
"""

from __future__ import annotations

import aiohttp
import httpx
import pytest

from tests.fakes.providers import FakeProviderServer
from tests.fakes.resolver import StaticResolver
from tests.net.conftest import KEY, REDIRECTING_KEY
from tollway.net.aiohttp_guard import guarded_session_factory
from tollway.net.guard import AddressRefused, OutboundPolicy, RedirectRefused
from tollway.net.httpx_guard import guarded_async_transport, guarded_sync_transport
from tollway.providers.url_safety import check_resolved_address

pytestmark = pytest.mark.anyio

DNS = {
    "loop.test": ["127.0.0.1"],
    "meta.test": ["169.254.169.254"],
    "private.test": ["10.0.0.7"],
    "mixed.test": ["127.0.0.1", "169.254.169.254"],
    "v6meta.test": ["::ffff:169.254.169.254"],
}


def _port(server: FakeProviderServer) -> int:
    return int(server.origin.rsplit(":", 1)[1])


def _auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _policy(allow_private: bool, resolver: StaticResolver | None = None) -> OutboundPolicy:
    return OutboundPolicy(allow_private=allow_private, resolver=resolver or StaticResolver(DNS))


async def _async_get(policy: OutboundPolicy, url: str, key: str = KEY) -> httpx.Response:
    async with httpx.AsyncClient(transport=guarded_async_transport(policy)) as client:
        return await client.get(url, headers=_auth(key), follow_redirects=True)


async def test_a_name_resolving_to_loopback_is_refused_unless_private_is_allowed(
    upstream: FakeProviderServer,
) -> None:
    url = f"http://loop.test:{_port(upstream)}/v1/models"
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.1.*loopback"):
        await _async_get(_policy(allow_private=False), url)
    assert upstream.requests == []
    response = await _async_get(_policy(allow_private=True), url)
    assert response.status_code == 200
    # The connection went to the vetted address; the request still names the host.
    assert upstream.requests[0].header("host") == f"loop.test:{_port(upstream)}"


@pytest.mark.parametrize(
    ("host", "allow_private", "reason"),
    [
        ("meta.test", True, "metadata"),
        ("v6meta.test", True, "metadata"),
        ("mixed.test", True, "metadata"),
        ("private.test", False, "private"),
        ("169.254.169.254", True, "metadata"),
        ("[::ffff:127.0.0.1]", False, "loopback"),
        ("2130706433", False, "loopback"),
    ],
)
async def test_refused_addresses_are_never_dialled(
    upstream: FakeProviderServer, host: str, allow_private: bool, reason: str
) -> None:
    url = f"http://{host}:{_port(upstream)}/v1/models"
    with pytest.raises(AddressRefused, match=reason):
        await _async_get(_policy(allow_private), url)
    assert upstream.requests == []


async def test_dns_rebinding_between_check_and_connect_is_caught(
    upstream: FakeProviderServer,
) -> None:
    resolver = StaticResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    policy = _policy(allow_private=False, resolver=resolver)
    port = _port(upstream)
    assert check_resolved_address("rebind.test", port, allow_private=False, resolver=resolver)
    with pytest.raises(AddressRefused, match="loopback"):
        await _async_get(policy, f"http://rebind.test:{port}/v1/models")
    assert upstream.requests == []


async def test_a_redirect_is_refused_and_its_target_never_called(
    upstream: FakeProviderServer, target: FakeProviderServer
) -> None:
    with pytest.raises(RedirectRefused) as caught:
        await _async_get(
            _policy(allow_private=True), upstream.base_url + "/models", key=REDIRECTING_KEY
        )
    assert caught.value.status == 307
    assert len(upstream.requests) == 1
    assert target.requests == []


def test_the_sync_transport_checks_addresses_and_refuses_redirects(
    upstream: FakeProviderServer, target: FakeProviderServer
) -> None:
    url = f"http://loop.test:{_port(upstream)}/v1/models"
    with (
        httpx.Client(transport=guarded_sync_transport(_policy(False))) as client,
        pytest.raises(AddressRefused),
    ):
        client.get(url, headers=_auth())
    with httpx.Client(transport=guarded_sync_transport(_policy(True))) as client:
        assert client.get(url, headers=_auth()).status_code == 200
        with pytest.raises(RedirectRefused):
            client.get(upstream.base_url + "/models", headers=_auth(REDIRECTING_KEY))
    assert target.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "loop.test"])
async def test_aiohttp_sessions_check_literals_and_names(
    upstream: FakeProviderServer, host: str
) -> None:
    url = f"http://{host}:{_port(upstream)}/v1/models"
    async with guarded_session_factory(_policy(allow_private=False))() as session:
        with pytest.raises(AddressRefused, match="loopback"):
            await session.get(url, headers=_auth())
    assert upstream.requests == []
    async with (
        guarded_session_factory(_policy(allow_private=True))() as session,
        session.get(url, headers=_auth()) as response,
    ):
        assert response.status == 200


async def test_aiohttp_sessions_refuse_metadata_names(upstream: FakeProviderServer) -> None:
    async with guarded_session_factory(_policy(allow_private=True))() as session:
        with pytest.raises(AddressRefused, match="metadata"):
            await session.get(f"http://meta.test:{_port(upstream)}/v1/models")
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://unknown.test:{_port(upstream)}/v1/models")
