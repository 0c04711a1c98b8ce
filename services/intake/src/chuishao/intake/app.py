"""Builds the intake service: HTTP API, NATS consumer, outbox relay."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from chuishao.common.broker import make_broker
from chuishao.common.catalogue import catalogue_view
from chuishao.common.clients import redis_client
from chuishao.common.clock import Clock, SystemClock
from chuishao.common.logging import configure_logging
from chuishao.common.streams import INTAKE_RECORDS, provision
from chuishao.intake import api, consumers, queries
from chuishao.intake.outbox import relay_forever
from chuishao.intake.service import Intake
from chuishao.intake.settings import IntakeSettings
from chuishao.intake.store import TicketStore


def create_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    logger = configure_logging("intake", settings.log_level, settings.log_format)
    broker = make_broker(settings, logger)
    redis = redis_client(settings)
    store = TicketStore(redis)
    consumers.register(broker, store)
    queries.register(broker, store)
    catalogue = catalogue_view()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await broker.connect()
        js = broker.connection.jetstream()
        await provision(js, (INTAKE_RECORDS,))
        await catalogue.start(js)
        await broker.start()
        app.state.intake = Intake(
            store=store,
            js=js,
            catalogue=catalogue,
            clock=clock or SystemClock(),
            reporter_secret=settings.reporter_ref_secret.get_secret_value(),
            publish_timeout=settings.publish_timeout_seconds,
        )
        relay = asyncio.create_task(relay_forever(store, js, settings.outbox_grace_seconds))
        logger.info("intake_ready", http=f"http://{settings.http_host}:{settings.http_port}")
        try:
            yield
        finally:
            relay.cancel()
            await catalogue.stop()
            await broker.stop()
            await redis.aclose()

    app = FastAPI(
        title="chuishao intake",
        version="1.0.0",
        summary="Report problems and follow them to resolution (吹哨报到 · 接诉即办)",
        lifespan=lifespan,
    )
    app.include_router(api.router)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        await redis.ping()
        return {"status": "ok" if broker.connection.is_connected else "degraded"}

    return app
