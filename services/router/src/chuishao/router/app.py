"""Builds the router service."""

import structlog
from faststream import FastStream
from faststream.nats import NatsBroker
from redis.asyncio import Redis

from chuishao.common.broker import durable_subscriber, make_broker
from chuishao.common.catalogue import publish_catalogue
from chuishao.common.clients import redis_client
from chuishao.common.clock import Clock, SystemClock
from chuishao.common.events import TicketDispatched, TicketNeedsManualDispatch, TicketSubmitted
from chuishao.common.handled import mark_handled, was_handled
from chuishao.common.logging import configure_logging
from chuishao.common.publishing import publish_event
from chuishao.common.streams import ROUTER, provision
from chuishao.router.directory import Directory
from chuishao.router.plugins_manager import Dispatcher, plugin_manager
from chuishao.router.settings import RouterSettings

PRODUCER = "router"


async def route(
    ticket: TicketSubmitted, dispatcher: Dispatcher, broker: NatsBroker, clock: Clock
) -> list[TicketDispatched | TicketNeedsManualDispatch]:
    js = broker.connection.jetstream()
    now = clock.now()
    decision = dispatcher.decide(ticket) if ticket.category else None
    events: list[TicketDispatched | TicketNeedsManualDispatch]
    if decision is None or ticket.category is None:
        events = [
            TicketNeedsManualDispatch.caused_by(
                ticket,
                producer=PRODUCER,
                occurred_at=now,
                category=ticket.category,
                reason=f"no plugin places category {ticket.category}",
            )
        ]
    else:
        summoned = [(decision.lead, "lead"), *((unit, "co") for unit in decision.co)]
        events = [
            TicketDispatched.caused_by(
                ticket,
                producer=PRODUCER,
                occurred_at=now,
                discriminator=unit_id,
                unit_id=unit_id,
                unit_name=dispatcher.directory.unit(unit_id).name,
                role=role,
                level=decision.level,
                whistle=decision.whistle,
                category=ticket.category,
                priority=decision.priority,
                description=ticket.description,
                location=ticket.location,
                media_urls=ticket.media_urls,
                reason=decision.reason,
            )
            for unit_id, role in summoned
        ]
    for event in events:
        await publish_event(js, event)
    return events


def create_app(settings: RouterSettings | None = None, clock: Clock | None = None) -> FastStream:
    settings = settings or RouterSettings()
    logger = configure_logging(PRODUCER, settings.log_level, settings.log_format)
    clock = clock or SystemClock()
    broker = make_broker(settings, logger)
    redis: Redis = redis_client(settings)
    directory = Directory.load(settings.directory_file)
    dispatcher = Dispatcher(plugin_manager(), directory)
    app = FastStream(broker, logger=logger)

    @durable_subscriber(broker, ROUTER)
    async def on_submitted(ticket: TicketSubmitted) -> None:
        if await was_handled(redis, ROUTER.name, ticket.event_id):
            return
        events = await route(ticket, dispatcher, broker, clock)
        await mark_handled(redis, ROUTER.name, ticket.event_id)
        structlog.get_logger().debug("routed", ticket_id=ticket.ticket_id, events=len(events))

    @app.on_startup
    async def declare() -> None:
        await broker.connect()
        js = broker.connection.jetstream()
        await provision(js, (ROUTER,))
        categories = dispatcher.categories()
        await publish_catalogue(js, categories)
        logger.info(
            "router_ready",
            directory_version=directory.version,
            plugins=sorted(name for name, _ in dispatcher.manager.list_name_plugin()),
            categories=len(categories),
        )

    @app.after_shutdown
    async def close() -> None:
        await redis.aclose()

    return app
