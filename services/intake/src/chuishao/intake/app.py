"""Builds the intake service: HTTP API (native and Open311), NATS consumers and request
subjects, the outbox relay."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from chuishao.common.broker import make_broker
from chuishao.common.catalogue import catalogue_view
from chuishao.common.clients import redis_client, wait_for_servers
from chuishao.common.clock import Clock, make_clock, start_clock, stop_clock
from chuishao.common.logging import configure_logging
from chuishao.common.metrics import metrics_endpoint
from chuishao.common.streams import INTAKE_RECORDS, provision
from chuishao.common.units import units_view
from chuishao.intake import api, consumers, nats_api, open311, queries
from chuishao.intake.auth import Keys
from chuishao.intake.outbox import relay_forever
from chuishao.intake.overload import ShedLoad
from chuishao.intake.service import Intake
from chuishao.intake.settings import IntakeSettings
from chuishao.intake.store import TicketStore


async def method_not_allowed(request: Request, error: Exception) -> Response:
    """Starlette's 405 names only the first matching route's methods; several routes may
    share a path (GET and POST /open311/v2/requests.json), so name them all."""
    allowed = sorted(
        {
            method
            for route in request.app.routes
            if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
            for method in route.methods or ()
        }
    )
    return JSONResponse(
        {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(allowed)}
    )


def create_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    logger = configure_logging("intake", settings.log_level, settings.log_format)
    broker = make_broker(settings, logger)
    redis = redis_client(settings)
    store = TicketStore(redis)
    catalogue = catalogue_view()
    units = units_view()
    keys = Keys(
        units=settings.unit_api_keys,
        operators=settings.operator_api_keys,
        open311=settings.open311_api_keys,
        unit_directory=units,
        supervisor_kinds=settings.supervisor_kinds,
        resident_secret=settings.resident_link_secret.get_secret_value(),
    )
    intake = Intake(
        store=store,
        broker=broker,
        catalogue=catalogue,
        keys=keys,
        clock=clock or make_clock(settings, redis),
        reporter_secret=settings.reporter_ref_secret.get_secret_value(),
        publish_timeout=settings.publish_timeout_seconds,
        duplicate_radius_m=settings.duplicate_radius_m,
        duplicate_window=timedelta(hours=settings.duplicate_window_hours),
    )
    consumers.register(broker, store)
    queries.register(broker, store)
    nats_api.register(broker, intake)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await wait_for_servers(settings)
        await start_clock(intake.clock)
        await broker.connect()
        js = intake.js
        await provision(js, (INTAKE_RECORDS,), replicas=settings.stream_replicas)
        await catalogue.start(js)
        await units.start(js)
        await broker.start()
        relay = asyncio.create_task(relay_forever(store, js, settings.outbox_grace_seconds))
        logger.info("intake_ready", http=f"http://{settings.http_host}:{settings.http_port}")
        try:
            yield
        finally:
            relay.cancel()
            await catalogue.stop()
            await units.stop()
            await broker.stop()
            await stop_clock(intake.clock)
            await redis.aclose()

    app = FastAPI(
        title="chuishao intake",
        version="1.0.0",
        summary="Report problems and follow them to resolution (吹哨报到 · 接诉即办)",
        lifespan=lifespan,
    )
    app.state.intake = intake
    app.add_middleware(
        ShedLoad,
        max_in_flight=settings.max_in_flight,
        per_client_per_minute=settings.per_client_requests_per_minute,
    )
    app.include_router(api.router)
    app.include_router(open311.router)
    app.add_exception_handler(405, method_not_allowed)

    app.add_route("/metrics", metrics_endpoint(broker), include_in_schema=False)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        await redis.ping()
        return {"status": "ok" if broker.connection.is_connected else "degraded"}

    return app
