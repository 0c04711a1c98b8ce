"""Intake's web app: the native API, Open311 and the operators' pages over its runtime,
and the process (`python -m chuishao.intake`)."""

from fastapi import FastAPI

from chuishao.common.clock import Clock
from chuishao.common.metrics import metrics_endpoint
from chuishao.common.runtime import serve_http
from chuishao.intake import (
    api,
    appeals,
    callers,
    docs_page,
    exports,
    http_errors,
    manual,
    open311,
    photos,
)
from chuishao.intake.bootstrap import IntakeService, bootstrap
from chuishao.intake.overload import ShedLoad
from chuishao.intake.settings import IntakeSettings


def web_app(service: IntakeService, settings: IntakeSettings) -> FastAPI:
    app = FastAPI(
        title="chuishao intake",
        version="1.0.0",
        summary="Report problems and follow them to resolution (吹哨报到 · 接诉即办)",
        lifespan=service.runtime.lifespan,
        docs_url=None,  # docs_page serves /docs with local assets; ReDoc needs a CDN
        redoc_url=None,
    )
    docs_page.install(app)
    app.state.intake = service.intake
    app.state.retention = service.retention
    app.state.photos = service.photos
    app.add_middleware(
        ShedLoad,
        max_in_flight=settings.max_in_flight,
        per_client_per_minute=settings.per_client_requests_per_minute,
        response_budget_ms=settings.response_budget_ms,
        keys=service.keys,  # rate limits key on the verified client, not on any header sent
    )
    # What any native route may answer besides its own refusals, in the one error shape.
    app.include_router(api.router, responses=http_errors.NATIVE_RESPONSES)
    app.include_router(manual.router, responses=http_errors.NATIVE_RESPONSES)
    app.include_router(photos.router, responses=http_errors.NATIVE_RESPONSES)
    app.include_router(callers.router, responses=http_errors.NATIVE_RESPONSES)
    app.include_router(exports.router, responses=http_errors.NATIVE_RESPONSES)
    app.include_router(appeals.router, responses=http_errors.NATIVE_RESPONSES)
    app.include_router(open311.router)
    http_errors.install(app)  # one error shape for every native refusal
    app.add_route("/metrics", metrics_endpoint(service.runtime.broker), include_in_schema=False)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return await service.runtime.health()

    return app


def create_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    return web_app(bootstrap(settings, clock=clock), settings)


def main() -> None:
    settings = IntakeSettings()
    serve_http(create_app(settings), settings.http_host, settings.http_port)
