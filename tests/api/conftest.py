"""Fixtures for the HTTP API: the real app on a real Rolegate of each backend, over httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from rolegate import Rolegate
from rolegate.api import create_app
from tests.factories import AuthActions, member_with_password

PEER = ("203.0.113.5", 1234)  # the socket address every test client connects from


@pytest.fixture
def anyio_backend() -> str:
    """The API is served on asyncio (uvicorn's loop)."""
    return "asyncio"


@pytest.fixture
def app(rg: Rolegate) -> FastAPI:
    """The HTTP service on ``rg``, trusting no proxy."""
    return create_app(rg)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that talks to ``app`` in memory, from address :data:`PEER`."""
    transport = httpx.ASGITransport(app=app, client=PEER)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def alice(rg: Rolegate) -> Rolegate:
    """``rg`` with alice, who has a password, as a member of tenant acme."""
    member_with_password(rg, "alice", tenant="acme")
    return rg


@pytest.fixture
def auth(client: httpx.AsyncClient) -> AuthActions:
    """Log in and build headers through the real endpoints."""
    return AuthActions(client)
