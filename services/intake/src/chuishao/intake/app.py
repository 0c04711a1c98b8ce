"""Builds the intake service: HTTP API (native and Open311), NATS consumers and request
subjects, the outbox relay."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI

from chuishao.common.broker import make_broker
from chuishao.common.catalogue import catalogue_view
from chuishao.common.clients import redis_client, wait_for_servers
from chuishao.common.clock import Clock, make_clock, start_clock, stop_clock
from chuishao.common.logging import configure_logging
from chuishao.common.metrics import metrics_endpoint
from chuishao.common.streams import INTAKE_RECORDS, provision
from chuishao.common.units import units_view
from chuishao.intake import (
    api,
    consumers,
    docs_page,
    http_errors,
    manual,
    nats_api,
    open311,
    queries,
    rebuild,
)
from chuishao.intake.auth import Keys
from chuishao.intake.outbox import relay_forever
from chuishao.intake.overload import ShedLoad
from chuishao.intake.retention import Policy, Retention, sweep_forever
from chuishao.intake.service import Intake
from chuishao.intake.settings import IntakeSettings
from chuishao.intake.store import TicketStore


def create_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    settings.refuse_known_secrets()
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
    retention = Retention(
        store,
        intake.clock,
        Policy(
            rating_window=timedelta(days=settings.rating_window_days),
            retention=timedelta(days=settings.contact_retention_days),
        ),
        erasers=[],
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
        # Ids and contacts from JetStream; records caught up with the stream before serving.
        records_check = await rebuild.before_serving(intake, settings)
        await catalogue.start(js)
        await units.start(js)
        await broker.start()
        relay = asyncio.create_task(relay_forever(store, js, settings.outbox_grace_seconds))
        if intake.contacts is not None:  # the encrypted copy forgets the reporter too
            retention.add_eraser(intake.contacts.forget_reporter)
        sweeper = asyncio.create_task(sweep_forever(retention, settings.retention_sweep_seconds))
        logger.info("intake_ready", http=f"http://{settings.http_host}:{settings.http_port}")
        try:
            yield
        finally:
            relay.cancel()
            sweeper.cancel()
            records_check.cancel()
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
        docs_url=None,  # docs_page serves /docs with local assets; ReDoc needs a CDN
        redoc_url=None,
    )
    docs_page.install(app)
    app.state.intake = intake
    app.state.retention = retention
    app.add_middleware(
        ShedLoad,
        max_in_flight=settings.max_in_flight,
        per_client_per_minute=settings.per_client_requests_per_minute,
        response_budget_ms=settings.response_budget_ms,
        keys=keys,  # rate limits key on the verified client, not on any header sent
    )
    # What any native route may answer besides its own refusals, in the one error shape.
    app.include_router(api.router, responses=http_errors.NATIVE_RESPONSES)
    app.include_router(manual.router, responses=http_errors.NATIVE_RESPONSES)
    app.include_router(open311.router)
    http_errors.install(app)  # one error shape for every native refusal

    app.add_route("/metrics", metrics_endpoint(broker), include_in_schema=False)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        await redis.ping()
        return {"status": "ok" if broker.connection.is_connected else "degraded"}

    return app
