"""Supervision's web app (the command-centre page) over its runtime, and the process."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chuishao.common.clock import Clock
from chuishao.common.errors import ApiError
from chuishao.common.metrics import metrics_endpoint
from chuishao.common.runtime import serve_http
from chuishao.supervision import web
from chuishao.supervision.bootstrap import bootstrap
from chuishao.supervision.service import Supervision
from chuishao.supervision.settings import SupervisionSettings


def web_app(service: Supervision) -> FastAPI:
    app = FastAPI(
        title="chuishao supervision",
        version="1.0.0",
        summary="The three rates, overdue work, hotspots and whistles (督办 · 研判)",
        lifespan=service.runtime.lifespan,
    )
    app.state.supervision = service

    @app.exception_handler(ApiError)
    async def refused(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    app.include_router(web.router)
    app.add_route("/metrics", metrics_endpoint(service.broker), include_in_schema=False)
    return app


def create_app(settings: SupervisionSettings | None = None, clock: Clock | None = None) -> FastAPI:
    return web_app(bootstrap(settings or SupervisionSettings(), clock=clock))


def serve(settings: SupervisionSettings) -> None:
    serve_http(
        create_app(settings),
        settings.supervision_http_host,
        settings.supervision_http_port,
        # The page's live streams never end by themselves; do not wait long for them.
        timeout_graceful_shutdown=2,
    )
