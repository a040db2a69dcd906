"""The API docs, served whole by rolegate: ``/docs`` (Swagger UI), ``/redoc`` (ReDoc), the
OAuth2 redirect page of Swagger UI, and the files they load from ``/docs/assets/``, shipped in
the package (``rolegate/api/static``, with their versions and licences). FastAPI's own docs load
them from a CDN, a blank page with no network; these pages ask no other host for anything.

The assets are one route over a fixed set of files, not a static mount: a route's template
labels the metrics, its methods answer a 405's ``Allow``, and nothing outside the set is served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

from rolegate.api.deps import public

router = APIRouter(include_in_schema=False, dependencies=[Depends(public)])

STATIC: Final = Path(__file__).resolve().parent.parent / "static"
ASSETS_PATH: Final = "/docs/assets"
OAUTH2_REDIRECT_PATH: Final = "/docs/oauth2-redirect"

#: What ``/docs/assets/{name}`` serves: name → (file under :data:`STATIC`, media type).
ASSETS: Final = {
    "swagger-ui-bundle.js": ("swagger-ui/swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": ("swagger-ui/swagger-ui.css", "text/css"),
    "favicon.png": ("swagger-ui/favicon-32x32.png", "image/png"),
    "redoc.standalone.js": ("redoc/redoc.standalone.js", "text/javascript"),
}

# The assets change only with a release of rolegate: a day's caching spares the megabytes, and
# the ETag revalidates them after an upgrade.
ASSET_CACHE_CONTROL: Final = "public, max-age=86400"


def _asset_url(request: Request, name: str) -> str:
    return f"{_root_path(request)}{ASSETS_PATH}/{name}"


def _root_path(request: Request) -> str:
    root_path: str = request.scope.get("root_path", "")
    return root_path.rstrip("/")


def _openapi_url(request: Request) -> str:
    return _root_path(request) + (request.app.openapi_url or "/openapi.json")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the app's OpenAPI schema."""
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=_asset_url(request, "swagger-ui-bundle.js"),
        swagger_css_url=_asset_url(request, "swagger-ui.css"),
        swagger_favicon_url=_asset_url(request, "favicon.png"),
        oauth2_redirect_url=_root_path(request) + OAUTH2_REDIRECT_PATH,
        init_oauth=request.app.swagger_ui_init_oauth,
        # No validator badge: it would send the schema to validator.swagger.io.
        swagger_ui_parameters={**(request.app.swagger_ui_parameters or {}), "validatorUrl": None},
    )


@router.get(OAUTH2_REDIRECT_PATH)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    """The page an OAuth2 authorization server sends Swagger UI's login popup back to."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the app's OpenAPI schema, in the browser's own fonts (no Google Fonts)."""
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=_asset_url(request, "redoc.standalone.js"),
        redoc_favicon_url=_asset_url(request, "favicon.png"),
        with_google_fonts=False,
    )


@router.get(ASSETS_PATH + "/{name}", response_model=None)
async def asset(name: str) -> FileResponse:
    """One of the :data:`ASSETS`; any other name is a 404 problem."""
    found = ASSETS.get(name)
    if found is None:
        raise HTTPException(404, f"no docs asset named {name!r}")
    path, media_type = found
    return FileResponse(
        STATIC / path, media_type=media_type, headers={"Cache-Control": ASSET_CACHE_CONTROL}
    )
