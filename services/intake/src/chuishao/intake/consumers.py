"""Keeps the ticket record current with what the other services report."""

from faststream.nats import NatsBroker

from chuishao.common.broker import durable_subscriber
from chuishao.common.events import AnyEvent
from chuishao.common.streams import INTAKE_RECORDS
from chuishao.intake.projection import apply
from chuishao.intake.store import TicketStore


def register(broker: NatsBroker, store: TicketStore) -> None:
    @durable_subscriber(broker, INTAKE_RECORDS)
    async def record_event(event: AnyEvent) -> None:
        # A missing record means the event outran nothing we know of: it is a real fault
        # (or a foreign producer), so it is retried and finally dead-lettered, not ignored.
        if await store.apply_foreign(event, apply) is None:
            raise LookupError(f"no ticket record for {event.ticket_id}")
