"""``/metrics`` on the main listener: for callers holding ``rolegate:metrics:read`` in the
platform tenant (a scraper's bearer token). With ``ROLEGATE_METRICS_ADDRESS`` set, this router
is left out and :mod:`rolegate.api.metrics_listener` serves the metrics instead."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from rolegate.api.deps import Caller, MetricsDep, requires_platform
from rolegate.api.metrics import CONTENT_TYPE
from rolegate.builtins import METRICS_READ

router = APIRouter(tags=["health"])

CanReadMetrics = Annotated[Caller, Depends(requires_platform(METRICS_READ))]


@router.get(
    "/metrics",
    response_model=None,
    responses={200: {"description": "Prometheus text format", "content": {CONTENT_TYPE: {}}}},
)
def metrics(_caller: CanReadMetrics, collected: MetricsDep) -> Response:
    """Prometheus metrics: requests by route and status, latency, logins, the authz cache."""
    return Response(collected.render(), media_type=CONTENT_TYPE)
