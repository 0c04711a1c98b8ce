"""The router's composition root: its parts, and the order they start in."""

import pluggy
import structlog
from faststream.nats import NatsBroker
from redis.asyncio import Redis

from chuishao.common.clock import Clock
from chuishao.common.loops import every
from chuishao.common.outbox import relay_once
from chuishao.common.runtime import Phase, compose
from chuishao.common.streams import ROUTER
from chuishao.router import place_query, triage_query
from chuishao.router.directory_watch import DirectoryWatch
from chuishao.router.plugins_manager import plugin_manager
from chuishao.router.service import RouterService
from chuishao.router.settings import RouterSettings
from chuishao.router.snapshot import PRODUCER
from chuishao.router.store import RoutingStore

log = structlog.get_logger()
RELAY_SECONDS = 2.0  # how often the outbox relay looks
RELAY_GRACE = 5.0  # how long a queued event may wait for its own publish


def bootstrap(
    settings: RouterSettings,
    *,
    clock: Clock | None = None,
    redis: Redis | None = None,
    broker: NatsBroker | None = None,
    manager: pluggy.PluginManager | None = None,
) -> RouterService:
    """Build the router; a test passes its own clock, Redis, broker or plugins (what it
    passes it closes itself)."""
    runtime = compose(PRODUCER, settings, clock=clock, redis=redis, broker=broker)
    broker, redis, clock = runtime.broker, runtime.redis, runtime.clock
    # A directory with a problem stops the start-up here, with every problem named.
    watch = DirectoryWatch(settings, manager or plugin_manager(), clock, broker)
    service = RouterService(
        runtime, broker, RoutingStore(redis), watch, batch_size=settings.router_batch_size
    )
    triage_query.register(broker, watch.current)  # the forms' suggestion while typing
    place_query.register(broker, watch.current)  # where a typed address is placed

    async def ready() -> None:
        snap = watch.snapshot
        log.info(
            "router_ready",
            directory_version=snap.directory.version,
            plugins=snap.dispatcher.plugin_names(),
            categories=len(snap.catalogue),
            units=len(snap.directory.units),
        )

    runtime.streams(ROUTER)
    runtime.batches(service.consumer)
    runtime.add(Phase.PREPARE, "publish read models", watch.publish)
    runtime.add(Phase.LOOPS, "reload on SIGHUP", watch.listen, watch.stop_listening)
    runtime.loop(
        every(settings.directory_poll_seconds, watch.poll, name="directory-watch", wait_first=True)
    )

    async def relay() -> None:
        # Past a grace: what `apply` is still publishing is not sent twice in a row.
        await relay_once(service.store.outbox, broker.connection.jetstream(), RELAY_GRACE)

    runtime.loop(every(RELAY_SECONDS, relay, name="outbox-relay"))
    runtime.add(Phase.READY, "ready", ready)
    return service
