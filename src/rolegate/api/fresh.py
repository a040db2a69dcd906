"""The check API's lean path: fresh answers without a database read per request, and without
FastAPI's per-request machinery.

Freshness: a check must never answer from before a change that was acknowledged before the
request arrived, whichever server committed it. That takes a catch-up (one read of the policy
revision) *after* the request arrives; one per request, in a worker thread, costs more than
the check. :class:`FreshBatches` keeps the promise for less: a batch takes every call waiting
when it starts, catches up, then runs them, so each call's catch-up began after the call
arrived; calls arriving meanwhile wait for the next batch. Alone, a request pays one read, as
before; under load, one read and one thread hop serve every request that arrived together.

Machinery: FastAPI solves dependencies, parses and serializes per request, several times the
cost of a check. :class:`FreshRoute` serves an ordinary, fully declared endpoint (so OpenAPI and
the route-guard test see it as it is) through a short handler that does the same: validate the
body with a precompiled adapter of the same model, run the same guard as
:func:`rolegate.api.deps.requires` in a fresh batch, call the endpoint, encode its answer.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from rolegate.api.deps import (
    AUTHENTICATED,
    GUARD,
    PUBLIC,
    Caller,
    TenantPath,
    metrics_of,
    rolegate_of,
    verify_bearer,
)
from rolegate.api.origin import identify_caller
from rolegate.facade import Rolegate

T = TypeVar("T")

_STATE_KEY: Final = "fresh_batches"
_TENANT: Final[TypeAdapter[str]] = TypeAdapter(TenantPath)


@dataclass(slots=True)
class _Call(Generic[T]):
    work: Callable[[], T]
    context: contextvars.Context  # the caller's: its request's origin, for the audit trail
    future: asyncio.Future[T]
    result: T | None = None
    error: Exception | None = None


class FreshBatches:
    """Runs calls in a worker thread, each after a catch-up that began after it arrived; calls
    that arrive together share the catch-up and the trip to the thread, but each runs in (a
    copy of) its caller's context, as ``run_in_threadpool`` would run it."""

    def __init__(self, catch_up: Callable[[], object]) -> None:
        self._catch_up = catch_up
        self._waiting: list[_Call[Any]] = []
        self._draining: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[], T]) -> T:
        """``work()``'s result (or exception), run after catching up with every committed
        change; a failed catch-up fails it (the database is unavailable: 503, never an answer)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        call = _Call(work, contextvars.copy_context(), future)
        self._waiting.append(call)
        if self._draining is None:
            # In an empty context: the drain outlives the request that started it, and must
            # not lend that request's origin to the others' work (or to the catch-up).
            drain = self._drain()
            self._draining = asyncio.create_task(drain, context=contextvars.Context())
        return await call.future

    async def _drain(self) -> None:
        batch: list[_Call[Any]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await run_in_threadpool(_run_batch, self._catch_up, batch)
                for call in batch:
                    if call.future.done():  # the caller went away
                        continue
                    if call.error is not None:
                        call.future.set_exception(call.error)
                    else:
                        call.future.set_result(call.result)
        finally:
            self._draining = None
            for call in (*batch, *self._waiting):  # only when cancelled (shutdown) mid-batch
                call.future.cancel()
            self._waiting = []


def _run_batch(catch_up: Callable[[], object], batch: list[_Call[Any]]) -> None:
    """In the worker thread: catch up once, then run every call of the batch."""
    try:
        catch_up()
    except Exception as exc:
        for call in batch:
            call.error = exc
        return
    for call in batch:
        try:
            call.result = call.context.run(call.work)
        except Exception as exc:
            call.error = exc


def batches_of(request: Request) -> FreshBatches:
    """The app's :class:`FreshBatches`, made on first use (on the loop that serves the app)."""
    state = request.app.state
    batches = getattr(state, _STATE_KEY, None)
    if batches is None:
        batches = FreshBatches(rolegate_of(request).catch_up)
        setattr(state, _STATE_KEY, batches)
    assert isinstance(batches, FreshBatches)
    return batches


@dataclass(frozen=True, slots=True)
class _Plan:
    """What :class:`FreshRoute` read from an endpoint's declaration, once, at start-up."""

    endpoint: Callable[..., Any]
    permission: str  # the guard's
    body_name: str
    body: TypeAdapter[Any]
    caller_name: str
    rolegate_name: str | None
    metrics_name: str | None
    answer: TypeAdapter[Any]

    @classmethod
    def of(cls, route: APIRoute) -> _Plan:
        """The plan for ``route``; :class:`TypeError` for an endpoint of another shape."""
        dependant = route.dependant
        shape = f"{route.path}: declare (body, caller, rolegate, metrics)"
        guard: tuple[str, str] | None = None
        names: dict[Callable[..., Any], str | None] = {rolegate_of: None, metrics_of: None}
        for dependency in dependant.dependencies:
            declared = getattr(dependency.call, GUARD, None)
            if declared not in (None, PUBLIC, AUTHENTICATED) and guard is None and dependency.name:
                guard = (str(declared), dependency.name)
            elif dependency.call in names:
                names[dependency.call] = dependency.name
            else:
                raise TypeError(f"{shape}; {dependency.call!r} cannot be served lean")
        others = (
            dependant.path_params,
            dependant.query_params,
            dependant.header_params,
            dependant.cookie_params,
        )
        body = dependant.body_params[0] if len(dependant.body_params) == 1 else None
        model = body.field_info.annotation if body is not None else None
        if guard is None or body is None or model is None or any(others):
            raise TypeError(f"{shape}; the caller from Depends(requires(permission))")
        return cls(
            route.endpoint,
            guard[0],
            body.name,
            TypeAdapter(model),
            guard[1],
            names[rolegate_of],
            names[metrics_of],
            TypeAdapter(route.response_model),
        )


class FreshRoute(APIRoute):
    """A route served by the lean path: an endpoint ``(body: Model, caller: Annotated[Caller,
    Depends(requires(permission))], rolegate: RolegateDep, metrics: MetricsDep) -> Model``
    (``rolegate`` and ``metrics`` optional), a plain ``def``: it runs in the worker thread.

    Same contract as FastAPI's path: the body is validated by the declared model (errors are
    the same 422 problem), the caller is authenticated and authorized like ``requires`` does,
    after catching up, and the answer is encoded by the declared response model.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The lean handler for this route's endpoint (checked here, at start-up)."""
        plan = _Plan.of(self)

        async def handle(request: Request) -> Response:
            body = _parse(plan.body, await request.body(), request.headers.get("content-type"))
            tenant = _path_tenant(request.path_params["tenant"])
            authorization = request.headers.get("authorization")
            rolegate = rolegate_of(request)
            arguments: dict[str, Any] = {plan.body_name: body}
            if plan.rolegate_name is not None:
                arguments[plan.rolegate_name] = rolegate
            if plan.metrics_name is not None:
                arguments[plan.metrics_name] = metrics_of(request)

            def work() -> bytes:
                arguments[plan.caller_name] = _authorize(
                    rolegate, authorization, plan.permission, tenant, request.scope
                )
                return plan.answer.dump_json(plan.endpoint(**arguments))

            answer = await batches_of(request).run(work)
            return Response(answer, media_type="application/json")

        return handle


def _authorize(
    rolegate: Rolegate, authorization: str | None, permission: str, tenant: str, scope: Scope
) -> Caller:
    """What ``requires(permission)`` does once caught up: the bearer token's principal, if it
    may do ``permission`` in ``tenant`` (401, 404 or 403 problems otherwise), named as the
    actor of the request's origin."""
    principal = verify_bearer(rolegate, authorization)
    identify_caller(principal, scope)
    return Caller(principal, rolegate.access.authorize(principal, permission, tenant=tenant))


def _parse(adapter: TypeAdapter[T], body: bytes, content_type: str | None) -> T:
    """The body as the declared model; a 422 problem like FastAPI's for anything else (no body,
    bad JSON, a body that is not JSON, a field out of bounds or unknown)."""
    try:
        if not body:
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
            )
        if _is_json(content_type):
            return adapter.validate_json(body)
        return adapter.validate_python(body)  # refused, as FastAPI refuses a non-JSON body
    except ValidationError as exc:
        raise _located(exc, "body") from None


def _path_tenant(value: str) -> str:
    try:
        return _TENANT.validate_python(value)
    except ValidationError as exc:
        raise _located(exc, "path", "tenant") from None


def _located(exc: ValidationError, *where: str) -> RequestValidationError:
    return RequestValidationError(
        [{**error, "loc": (*where, *error["loc"])} for error in exc.errors(include_url=False)]
    )


def _is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/*+json``, parameters aside (as FastAPI reads it)."""
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
