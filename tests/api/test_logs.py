"""No credential reaches a log or the trail's request fields (the served access log itself is
tested on a real server in ``test_serve.py``)."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI

from rolegate.api.origin import RequestOrigin
from rolegate.audit.redact import REDACTED

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"


def test_an_app_redacts_uvicorns_access_log(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        # The call uvicorn's h11 and httptools protocols make for every answered request.
        access.info(
            '%s - "%s %s HTTP/%s" %d', "10.0.0.1:5", "GET", f"/v1/me?token={JWT}", "1.1", 401
        )
    [record] = caplog.records
    assert record.getMessage() == f'10.0.0.1:5 - "GET /v1/me?token={REDACTED} HTTP/1.1" 401'


def test_the_trails_request_route_never_keeps_a_token_from_the_path() -> None:
    middleware = RequestOrigin(FastAPI(), trusted_proxies=())
    scope = {"type": "http", "method": "GET", "path": f"/v1/x/{JWT}", "headers": []}
    origin = middleware.origin_of(scope)
    assert origin.route == f"GET /v1/x/{REDACTED}"
