"""Builds the sla service."""

from datetime import timedelta

from faststream import FastStream
from redis.asyncio import Redis

from chuishao.common.broker import durable_subscriber, make_broker
from chuishao.common.clients import redis_client
from chuishao.common.clock import Clock, SystemClock
from chuishao.common.domain import ClockKind, Role
from chuishao.common.events import SlaClockArmed, TicketDispatched
from chuishao.common.handled import mark_handled, was_handled
from chuishao.common.logging import configure_logging
from chuishao.common.publishing import publish_event
from chuishao.common.streams import SLA, provision
from chuishao.sla.settings import SlaSettings
from chuishao.sla.timers import TimerStore, timer_id

PRODUCER = "sla"


def create_app(settings: SlaSettings | None = None, clock: Clock | None = None) -> FastStream:
    settings = settings or SlaSettings()
    logger = configure_logging(PRODUCER, settings.log_level, settings.log_format)
    clock = clock or SystemClock()
    broker = make_broker(settings, logger)
    redis: Redis = redis_client(settings)
    timers = TimerStore(redis)
    limit = timedelta(hours=settings.resolution_hours)
    app = FastStream(broker, logger=logger)

    @durable_subscriber(broker, SLA)
    async def on_dispatched(dispatch: TicketDispatched) -> None:
        if dispatch.role != Role.LEAD or await was_handled(redis, SLA.name, dispatch.event_id):
            return
        # The clock runs from the dispatch itself, not from when we got round to it.
        deadline = dispatch.occurred_at + limit
        timer = timer_id(dispatch.ticket_id, ClockKind.RESOLUTION, dispatch.level, None)
        await timers.arm(timer, deadline)
        armed = SlaClockArmed.caused_by(
            dispatch,
            producer=PRODUCER,
            occurred_at=clock.now(),
            clock=ClockKind.RESOLUTION,
            level=dispatch.level,
            unit_id=None,
            limit_seconds=int(limit.total_seconds()),
            deadline=deadline,
        )
        await publish_event(broker.connection.jetstream(), armed)
        await mark_handled(redis, SLA.name, dispatch.event_id)

    @app.on_startup
    async def declare() -> None:
        await broker.connect()
        await provision(broker.connection.jetstream(), (SLA,))

    @app.after_shutdown
    async def close() -> None:
        await redis.aclose()

    return app
