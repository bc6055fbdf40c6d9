"""The web dashboard: static pages served by the API itself (no Node.js, no CDN).

``install(app)`` adds the margin-lab and solvency routers, serves the pages at
``/dashboard/`` (exchange) and ``/dashboard/margin`` (margin lab), their assets under
``/dashboard/static/``, and replaces FastAPI's ``/docs`` page (Swagger UI from a CDN) by the
same page pointing at the vendored ``swagger-ui-dist`` files, so everything works offline.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(str(resources.files("prophex.api.dashboard").joinpath("static")))
SWAGGER = "/dashboard/static/vendor/swagger-ui"
pages = APIRouter(include_in_schema=False)


def _page(name: str) -> HTMLResponse:
    return HTMLResponse(
        (STATIC / name).read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"}
    )


@pages.get("/dashboard")
def dashboard_root() -> RedirectResponse:
    return RedirectResponse("/dashboard/")


@pages.get("/dashboard/")
def exchange_page() -> HTMLResponse:
    return _page("exchange.html")


@pages.get("/dashboard/margin")
def margin_page() -> HTMLResponse:
    return _page("margin.html")


def install(app: FastAPI) -> None:
    """Register the dashboard's routers, static files and the offline Swagger UI."""
    from prophex.api.routers import margin, solvency

    app.include_router(margin.router)
    app.include_router(solvency.router)
    app.include_router(pages)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") != "/docs"]
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        )
