"""The API docs page (/docs), served whole by intake: Swagger UI's script, styles and
icon come from the swagger-ui-py package under /docs/assets/, not from a CDN — FastAPI's
default page is blank without the internet, and its CDN is often unreachable in mainland
China. ReDoc (CDN only) is off."""

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
SWAGGER_UI = Path(str(files("swagger_ui") / "static"))


def install(app: FastAPI) -> None:
    """Needs the app made with docs_url=None and redoc_url=None."""
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_UI), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} · API 文档",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
            # "Authorize" keeps the X-API-Key across reloads of the page.
            swagger_ui_parameters={"persistAuthorization": True},
        )
