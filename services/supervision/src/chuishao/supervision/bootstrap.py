"""Supervision's composition root: its parts and the order they start in."""

import structlog
from faststream.nats import NatsBroker
from redis.asyncio import Redis

from chuishao.common.clock import Clock
from chuishao.common.loops import every
from chuishao.common.runtime import Phase, compose
from chuishao.common.streams import SUPERVISION
from chuishao.supervision.projection import PRODUCER
from chuishao.supervision.service import RELAY_SECONDS, Supervision
from chuishao.supervision.settings import SupervisionSettings

log = structlog.get_logger()


def bootstrap(
    settings: SupervisionSettings,
    *,
    clock: Clock | None = None,
    redis: Redis | None = None,
    broker: NatsBroker | None = None,
) -> Supervision:
    """Build supervision; a test passes its own clock, Redis or broker (and closes them)."""
    runtime = compose(PRODUCER, settings, clock=clock, redis=redis, broker=broker)
    broker, redis, clock = runtime.broker, runtime.redis, runtime.clock
    service = Supervision(runtime, settings)

    async def ready() -> None:
        host, port = settings.supervision_http_host, settings.supervision_http_port
        log.info("supervision_ready", page=f"http://{host}:{port}/")

    runtime.streams(SUPERVISION)
    runtime.batches(service.consumer)
    # Before the consumer applies its first event (PREPARE comes before CONSUME).
    runtime.add(Phase.PREPARE, "month counters", service.mark_month_counters, idempotent=True)
    for view in (service.units, service.places, service.catalogue):
        runtime.view(view)
    runtime.loop(every(RELAY_SECONDS, service.relay, name="hotspot-relay"))
    runtime.loop(every(settings.gauges_refresh_seconds, service.refresh_gauges, name="gauges"))
    runtime.add(Phase.READY, "ready", ready)
    return service
