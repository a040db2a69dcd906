"""The client address: the socket peer's, and X-Forwarded-For only through trusted proxies."""

from __future__ import annotations

import httpx
import pytest

from rolegate import Rolegate
from rolegate.api import create_app
from tests.factories import PASSWORD

pytestmark = pytest.mark.anyio

PROXY = "10.0.0.7"


async def login_from(
    rg: Rolegate, peer: str, forwarded: str | None, *, trusted: tuple[str, ...] = ()
) -> str | None:
    """Log alice in from socket address ``peer``; the IP the login history recorded."""
    app = create_app(rg, trusted_proxies=trusted)
    transport = httpx.ASGITransport(app=app, client=(peer, 4321))
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/v1/auth/login",
            json={"username": "alice", "password": PASSWORD, "tenant": "acme"},
            headers=headers,
        )
    assert response.status_code == 200, response.text
    return rg.auth.login_history(user="alice", limit=1)[0].ip


async def test_the_socket_peer_is_the_client(alice: Rolegate) -> None:
    assert await login_from(alice, "203.0.113.5", None) == "203.0.113.5"


async def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(alice: Rolegate) -> None:
    assert await login_from(alice, "203.0.113.5", "198.51.100.1") == "203.0.113.5"
    assert await login_from(alice, PROXY, "198.51.100.1", trusted=("10.0.0.8",)) == PROXY


async def test_a_trusted_proxy_names_the_right_most_untrusted_address(alice: Rolegate) -> None:
    # The client forged the left-most entry; the proxy appended the address it really saw.
    forwarded = "192.0.2.66, 198.51.100.1"
    assert await login_from(alice, PROXY, forwarded, trusted=(PROXY,)) == "198.51.100.1"
    chained = "192.0.2.66, 198.51.100.1, 10.1.2.3"  # through a second proxy of ours
    assert await login_from(alice, PROXY, chained, trusted=("10.0.0.0/8",)) == "198.51.100.1"


async def test_a_garbled_forwarded_header_falls_back_to_the_peer(alice: Rolegate) -> None:
    assert await login_from(alice, PROXY, "198.51.100.1, not-an-ip", trusted=(PROXY,)) == PROXY
    assert await login_from(alice, PROXY, "", trusted=(PROXY,)) == PROXY


async def test_sessions_record_the_forwarded_address(alice: Rolegate) -> None:
    await login_from(alice, PROXY, "2001:db8::1", trusted=(PROXY,))
    assert alice.auth.sessions("alice")[0].created_ip == "2001:db8::1"


def test_bad_trusted_proxies_are_refused_at_start(rg: Rolegate) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        create_app(rg, trusted_proxies=("proxy.internal",))
