"""The operator dashboard: ``GET /`` and the few static files it needs, served from the package.

Everything the page uses ships in ``tradeguard/api/static`` (no build step, no CDN). The files
are read once when the app is built. The page holds the operator token in memory only and
sends it as a bearer token to the operator API; the Content-Security-Policy allows scripts,
styles and requests from this origin alone, so nothing on the page can send it elsewhere.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.exceptions import HTTPException

# name -> media type; only these files are served.
STATIC_FILES = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "view.js": "text/javascript; charset=utf-8",
}
PAGE = "dashboard.html"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _read(name: str) -> bytes:
    return (resources.files("tradeguard.api") / "static" / name).read_bytes()


def build_router() -> APIRouter:
    """Return the router serving the dashboard page and its static files."""
    page = _read(PAGE)
    files = {name: _read(name) for name in STATIC_FILES}
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def dashboard() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        body = files.get(name)
        if body is None:
            # rendered by the app's handler for unknown routes, with the same code
            raise HTTPException(404, "Not Found")
        return Response(body, media_type=STATIC_FILES[name], headers=SECURITY_HEADERS)

    return router


__all__ = ["PAGE", "SECURITY_HEADERS", "STATIC_FILES", "build_router"]
