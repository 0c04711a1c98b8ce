"""Keeps the ticket record current with what the other services report."""

from faststream.nats import NatsBroker

from chuishao.common.broker import durable_subscriber
from chuishao.common.events import AnyEvent
from chuishao.common.streams import INTAKE_RECORDS
from chuishao.intake.projection import PLACING, apply, placed_like
from chuishao.intake.records import TicketRecord
from chuishao.intake.store import RecordStore


def register(broker: NatsBroker, store: RecordStore) -> None:
    @durable_subscriber(broker, INTAKE_RECORDS)
    async def record_event(event: AnyEvent) -> None:
        # A missing record means the event outran nothing we know of: it is a real fault
        # (or a foreign producer), so it is retried and finally dead-lettered, not ignored.
        record = await store.apply_foreign(event, apply)
        if record is None:
            raise LookupError(f"no ticket record for {event.ticket_id}")
        if isinstance(event, PLACING):
            await place_linked(store, record)


async def place_linked(store: RecordStore, lead: TicketRecord) -> None:
    """The lead's reports follow it wherever it is placed, so each is known to exactly
    those who know the lead (a redelivered event changes nothing the second time)."""
    for report_id in lead.linked_reports:
        await store.change(report_id, lambda report: (placed_like(report, lead), []))
