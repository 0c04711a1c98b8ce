"""The console's composition root: its parts and the order they start in."""

import asyncio
import contextlib
from pathlib import Path

import structlog
from faststream.nats import NatsBroker
from redis.asyncio import Redis

from chuishao.common.broker import durable_subscriber, make_broker
from chuishao.common.clients import redis_client
from chuishao.common.clock import Clock, make_clock
from chuishao.common.events import HotspotDetected
from chuishao.common.logging import configure_logging
from chuishao.common.runtime import Phase, Runtime
from chuishao.common.streams import CONSOLE_HOTSPOTS
from chuishao.console import knowledge
from chuishao.console.service import PRODUCER, Console
from chuishao.console.settings import ConsoleSettings

log = structlog.get_logger()


def bootstrap(
    settings: ConsoleSettings,
    *,
    clock: Clock | None = None,
    redis: Redis | None = None,
    broker: NatsBroker | None = None,
) -> Console:
    """Build the console; a test passes its own clock, Redis or broker (and closes them)."""
    logger = configure_logging(PRODUCER, settings.log_level, settings.log_format)
    settings.refuse_known_secrets()
    broker = broker or make_broker(settings, logger)
    own_redis = redis is None
    redis = redis or redis_client(settings)
    clock = clock or make_clock(settings, redis)
    runtime = Runtime(
        PRODUCER, settings, broker=broker, redis=redis, clock=clock, close_redis=own_redis
    )
    console = Console(runtime, settings)

    seeding: list[asyncio.Task[None]] = []

    async def seed() -> None:
        try:
            added = await console.accounts.seed(Path(settings.console_seed_accounts))
        except (OSError, ValueError, KeyError) as error:
            log.error("console_accounts_not_seeded", error=repr(error))
            return
        log.info("console_accounts_seeded", added=added)

    async def seed_knowledge() -> None:
        js = console.broker.connection.jetstream()
        path = Path(settings.console_seed_knowledge)
        try:
            added = await knowledge.seed(js, path, clock.now())
        except (OSError, ValueError, KeyError) as error:
            log.error("console_knowledge_not_seeded", error=repr(error))
            return
        log.info("console_knowledge_seeded", added=added)

    async def start_seeding() -> None:
        # In the background: hashing the demo accounts (argon2id, ~70 of them on first
        # start) takes seconds, and the pages need not wait for it.
        if settings.console_seed_accounts:
            seeding.append(asyncio.create_task(seed(), name="seed accounts"))
        if settings.console_seed_knowledge:
            seeding.append(asyncio.create_task(seed_knowledge(), name="seed knowledge"))

    async def stop_seeding() -> None:
        for task in seeding:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def ready() -> None:
        host, port = settings.console_http_host, settings.console_http_port
        log.info("console_ready", page=f"http://{host}:{port}/")

    @durable_subscriber(broker, CONSOLE_HOTSPOTS)
    async def on_hotspot(warning: HotspotDetected) -> None:
        await console.hotspot_texts.on_warning(warning)

    async def connect() -> None:
        console.hotspot_texts.nats = console.broker.connection

    for view in (console.units, console.places, console.catalogue, console.knowledge):
        runtime.view(view)
    runtime.streams(CONSOLE_HOTSPOTS)
    runtime.add(Phase.PREPARE, "hotspot sms", connect)
    runtime.add(Phase.LOOPS, "seed accounts", start_seeding, stop_seeding)
    runtime.add(Phase.READY, "ready", ready, console.intake.aclose)
    return console
