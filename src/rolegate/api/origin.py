"""Where an HTTP request comes from, for the audit trail: the client's address and agent, a
request id, the route and, once authenticated, the caller.

:class:`RequestOrigin` makes a :class:`~rolegate.audit.origin.Origin` current for the whole of
each request, so every audit event and decision record written meanwhile (in worker threads
too: they get a copy of the context) carries it, and answers with the request id in an
``X-Request-ID`` header, error answers included, so a client can quote it to an operator who
then finds the request's events.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Final

from starlette.datastructures import URL, Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rolegate.api.problems import unexpected_error_response
from rolegate.audit.origin import MAX_REQUEST_ID_LENGTH, Origin, acting_from, current_origin
from rolegate.audit.redact import redact_target
from rolegate.entities import Principal

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REQUEST_ID_HEADER: Final = "X-Request-ID"
#: A client's request id is kept only when it is short and plain: it is echoed in a header and
#: stored in the trail, so anything else (a newline, a kilobyte) is replaced by our own.
_ACCEPTED_REQUEST_ID: Final = re.compile(rb"[A-Za-z0-9._:-]{1,%d}" % MAX_REQUEST_ID_LENGTH)
#: A forwarded host is a name or address with an optional port, nothing else (no user, path).
_FORWARDED_HOST: Final = re.compile(
    r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


def trusted_networks(proxies: Iterable[str]) -> tuple[Network, ...]:
    """Parse proxy addresses or networks (``10.0.0.1``, ``10.0.0.0/8``); bad ones raise."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def _is_trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(
    peer: str | None, forwarded: Iterable[str], networks: Sequence[Network]
) -> str | None:
    """The client's address: the socket ``peer``'s, unless the peer is a trusted proxy.

    Only then are the ``X-Forwarded-For`` header values (``forwarded``) read, right to left:
    every proxy appends the address it saw, so the right-most address that is not a trusted
    proxy is the client, and anything left of it was written by the client itself and proves
    nothing (MDN, X-Forwarded-For, Security).
    """
    if peer is None or not networks or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for header in forwarded for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            address = str(ipaddress.ip_address(hop))
        except ValueError:
            return peer  # a garbled entry: nothing left of it can be believed
        if not _is_trusted(address, networks):
            return address
    return hops[0] if hops else peer


def public_url(url: URL, peer: str | None, headers: Headers, networks: Sequence[Network]) -> URL:
    """``url`` as the client asked for it: with the scheme and host a trusted proxy forwarded
    (``X-Forwarded-Proto``, ``X-Forwarded-Host``; the first, client-facing hop's), else as
    received. From any other peer those headers are ignored: they would let a client choose the
    URLs a cache then hands to everyone."""
    if peer is None or not networks or not _is_trusted(peer, networks):
        return url
    proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    host = headers.get("x-forwarded-host", "").split(",")[0].strip()
    if proto in ("http", "https"):
        url = url.replace(scheme=proto)
    if _FORWARDED_HOST.fullmatch(host):
        url = url.replace(netloc=host)
    return url


def request_id(given: bytes | None) -> str:
    """The client's ``X-Request-ID`` when it is 1 to 100 of ``A-Z a-z 0-9 . _ : -``; a fresh
    random one otherwise."""
    if given is not None and _ACCEPTED_REQUEST_ID.fullmatch(given):
        return given.decode("ascii")
    return uuid.uuid4().hex


def identify_caller(principal: Principal, scope: Scope) -> None:
    """Name the authenticated caller, and the route template the request matched, in the
    current origin (if any).

    The origin is mutated, not replaced: this runs in a worker thread, on a copy of the
    request's context, and every copy shares the one :class:`Origin`.
    """
    origin = current_origin()
    if origin is None:
        return
    origin.actor = str(principal.user_id)
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str):  # "/v1/tenants/{tenant}/roles", not the raw path
        origin.route = f"{scope['method']} {template}"


class RequestOrigin:
    """ASGI middleware running each HTTP request inside :func:`acting_from` its origin, and
    echoing the request id in every answer. X-Forwarded-For counts only from a peer in
    ``trusted_proxies``."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[Network]) -> None:
        self._app, self._trusted = app, tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``scope`` from its origin."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        origin = self.origin_of(scope)
        header = (b"x-request-id", (origin.request_id or "").encode("ascii"))
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            with acting_from(origin):
                await self._app(scope, receive, send_with_id)
        except Exception as exc:
            # Starlette answers an unhandled error outside every middleware, so without the id;
            # answered here (the same problem), the error handler only logs it.
            if not started:
                await unexpected_error_response(exc)(scope, receive, send_with_id)
            raise

    def origin_of(self, scope: Scope) -> Origin:
        """The origin of the request of ``scope``, read in one pass over its headers."""
        agent: bytes | None = None
        given_id: bytes | None = None
        forwarded: list[str] = []
        for name, value in scope["headers"]:
            if name == b"user-agent" and agent is None:
                agent = value
            elif name == b"x-request-id" and given_id is None:
                given_id = value
            elif name == b"x-forwarded-for":
                forwarded.append(value.decode("latin-1"))
        client = scope.get("client")
        return Origin(
            ip=client_address(client[0] if client else None, forwarded, self._trusted),
            user_agent=agent.decode("latin-1") if agent is not None else None,
            request_id=request_id(given_id),
            # The raw path until a route matches; never a token someone put in it.
            route=f"{scope['method']} {redact_target(scope['path'])}",
        )
