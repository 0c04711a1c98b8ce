"""Builds the notify service."""

from faststream import FastStream
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.broker import durable_subscriber, make_broker
from chuishao.common.clients import redis_client
from chuishao.common.clock import Clock, SystemClock
from chuishao.common.events import TicketDispatched, UnitNotified
from chuishao.common.handled import mark_handled, was_handled
from chuishao.common.logging import configure_logging
from chuishao.common.publishing import publish_event
from chuishao.common.settings import ServiceSettings
from chuishao.common.streams import NOTIFY, provision

PRODUCER = "notify"


def create_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastStream:
    settings = settings or ServiceSettings()
    logger = configure_logging(PRODUCER, settings.log_level, settings.log_format)
    clock = clock or SystemClock()
    broker = make_broker(settings, logger)
    redis: Redis = redis_client(settings)
    app = FastStream(broker, logger=logger)

    @durable_subscriber(broker, NOTIFY)
    async def on_dispatched(dispatch: TicketDispatched) -> None:
        if await was_handled(redis, NOTIFY.name, dispatch.event_id):
            return
        js = broker.connection.jetstream()
        subject = subjects.unit_delivery(dispatch.unit_id, dispatch.kind, dispatch.ticket_id)
        # The unit gets the dispatch event itself; its id de-duplicates a redelivery.
        await publish_event(js, dispatch, subject=subject)
        notified = UnitNotified.caused_by(
            dispatch,
            producer=PRODUCER,
            occurred_at=clock.now(),
            unit_id=dispatch.unit_id,
            channel="nats",
            address=subject,
        )
        await publish_event(js, notified)
        await mark_handled(redis, NOTIFY.name, dispatch.event_id)

    @app.on_startup
    async def declare() -> None:
        await broker.connect()
        await provision(broker.connection.jetstream(), (NOTIFY,))

    @app.after_shutdown
    async def close() -> None:
        await redis.aclose()

    return app
