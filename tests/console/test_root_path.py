"""Behind a reverse proxy that serves tollway under /tollway (stripping the prefix),
every console link, form action, redirect, static file and cookie is under it, and a
form sent from the proxy's origin is the console's own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tests.console.conftest import NAV_PATHS, csrf_of
from tests.fakes.prefix_proxy import PrefixProxy
from tests.live import running_server

PREFIX = "/tollway"
_URLS = re.compile(r'(?:href|src|action)="([^"]*)"')


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[httpx.Client, PrefixProxy]]:
    url = f"sqlite:///{tmp_path / 'tollway.db'}"
    settings = make_settings(tmp_path / "data", url, server={"root_path": PREFIX})
    with (
        running_server(settings) as upstream,
        PrefixProxy(upstream, PREFIX) as proxy,
        httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", follow_redirects=False) as client,
    ):
        yield client, proxy


def _from(proxy: PrefixProxy) -> dict[str, str]:
    origin = f"http://127.0.0.1:{proxy.port}"
    return {"origin": origin, "referer": f"{origin}{PREFIX}/console/login"}


def _local_urls(html: str) -> list[str]:
    return [url for url in _URLS.findall(html) if not url.startswith(("#", "data:"))]


def test_the_console_works_under_a_path_prefix(
    proxied: tuple[httpx.Client, PrefixProxy],
) -> None:
    client, proxy = proxied
    denied = client.get(f"{PREFIX}/console/providers")
    assert denied.status_code == 303
    assert denied.headers["location"] == (
        "/tollway/console/login?next=%2Ftollway%2Fconsole%2Fproviders"
    )

    form = client.get(denied.headers["location"])
    assert form.status_code == 200
    assert 'action="/tollway/console/login"' in form.text
    assert "path=/tollway/console" in form.headers["set-cookie"].lower()
    for url in _local_urls(form.text):
        assert url.startswith(f"{PREFIX}/console/"), url
    for asset in ("console.css", "console.js"):
        assert f'"{PREFIX}/console/static/{asset}"' in form.text
        assert client.get(f"{PREFIX}/console/static/{asset}").status_code == 200

    data = {
        "token": ADMIN_TOKEN,
        "csrf_token": csrf_of(form.text),
        "next": "/tollway/console/usage",
    }
    # As a browser sends it: from the sign-in page, whose origin is the proxy's.
    signed = client.post(f"{PREFIX}/console/login", data=data, headers=_from(proxy))
    assert signed.status_code == 303
    assert signed.headers["location"] == "/tollway/console/usage"
    assert "path=/tollway/console" in signed.headers["set-cookie"].lower()

    home = client.get(f"{PREFIX}/console/")
    assert home.status_code == 200
    links = _local_urls(home.text)
    for path in NAV_PATHS:
        assert PREFIX + path in links
    assert all(url.startswith(f"{PREFIX}/console/") for url in links), links

    out = client.post(
        f"{PREFIX}/console/logout", data={"csrf_token": csrf_of(home.text)}, headers=_from(proxy)
    )
    assert out.headers["location"] == "/tollway/console/login?signed_out=1"
    assert proxy.requests[0] == "/console/providers"  # the upstream saw the prefix stripped


def test_a_form_sent_from_another_site_through_the_proxy_is_refused(
    proxied: tuple[httpx.Client, PrefixProxy],
) -> None:
    client, _proxy = proxied
    form = client.get(f"{PREFIX}/console/login")
    data = {"token": ADMIN_TOKEN, "csrf_token": csrf_of(form.text), "next": ""}
    refused = client.post(
        f"{PREFIX}/console/login", data=data, headers={"origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    assert "This form was sent from another site" in refused.text
    assert f'href="{PREFIX}/console/static/console.css"' in refused.text
