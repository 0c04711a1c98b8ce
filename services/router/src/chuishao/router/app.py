"""Builds the router service."""

import pluggy
import structlog
from faststream import FastStream

from chuishao.common.broker import make_broker
from chuishao.common.clients import redis_client, wait_for_servers
from chuishao.common.clock import Clock, make_clock, start_clock, stop_clock
from chuishao.common.logging import configure_logging
from chuishao.common.metrics import expose_metrics
from chuishao.router.plugins_manager import plugin_manager
from chuishao.router.service import RouterService
from chuishao.router.settings import RouterSettings
from chuishao.router.snapshot import PRODUCER


def build(
    settings: RouterSettings,
    logger: structlog.stdlib.BoundLogger,
    clock: Clock | None = None,
    manager: pluggy.PluginManager | None = None,
) -> RouterService:
    redis = redis_client(settings)
    return RouterService(
        settings,
        make_broker(settings, logger),
        redis,
        manager or plugin_manager(),
        clock or make_clock(settings, redis),
    )


def create_app(settings: RouterSettings | None = None, clock: Clock | None = None) -> FastStream:
    settings = settings or RouterSettings()
    logger = configure_logging(PRODUCER, settings.log_level, settings.log_format)
    service = build(settings, logger, clock)
    app = FastStream(service.broker, logger=logger)
    expose_metrics(app, service.broker, PRODUCER)

    @app.on_startup
    async def prepare() -> None:
        await wait_for_servers(settings)
        await start_clock(service.clock)
        await service.prepare()

    @app.on_shutdown  # before the broker stops: a reload in flight still has NATS
    async def stop_watching() -> None:
        await service.close()

    @app.after_shutdown
    async def close() -> None:
        await stop_clock(service.clock)
        await service.store.redis.aclose()

    return app
