"""Builds the supervision service: the projection consumer and the command-centre page."""

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chuishao.common.clock import Clock
from chuishao.common.errors import ApiError
from chuishao.common.logging import configure_logging
from chuishao.common.metrics import metrics_endpoint
from chuishao.supervision import web
from chuishao.supervision.projection import PRODUCER
from chuishao.supervision.service import Supervision
from chuishao.supervision.settings import SupervisionSettings


def create_app(settings: SupervisionSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or SupervisionSettings()
    logger = configure_logging(PRODUCER, settings.log_level, settings.log_format)
    service = Supervision(settings, logger, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        logger.info(
            "supervision_ready",
            page=f"http://{settings.supervision_http_host}:{settings.supervision_http_port}/",
        )
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="chuishao supervision",
        version="1.0.0",
        summary="The three rates, overdue work, hotspots and whistles (督办 · 研判)",
        lifespan=lifespan,
    )
    app.state.supervision = service

    @app.exception_handler(ApiError)
    async def refused(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    app.include_router(web.router)
    app.add_route("/metrics", metrics_endpoint(service.broker), include_in_schema=False)
    return app
