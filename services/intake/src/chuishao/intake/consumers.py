"""Keeps the ticket record current with what the other services report."""

from faststream.nats import NatsBroker

from chuishao.common.batches import BatchConsumer
from chuishao.common.events import AnyEvent
from chuishao.common.streams import INTAKE_RECORDS, ConsumerSpec
from chuishao.intake.projection import PLACING, apply, fold_into, placed_like
from chuishao.intake.records import TicketRecord
from chuishao.intake.store import RecordStore


def records_consumer(
    broker: NatsBroker, store: RecordStore, spec: ConsumerSpec = INTAKE_RECORDS
) -> BatchConsumer[AnyEvent]:
    """A batch at a time (chuishao.common.batches): the batch's records are read and
    written in one transaction (`RecordStore.apply_foreign_batch`)."""

    async def record_events(events: list[AnyEvent]) -> None:
        # A missing record means the event outran nothing we know of: it is a real fault
        # (or a foreign producer), so it is retried and finally dead-lettered, not ignored
        # (the batch is then settled one event at a time, and only that one waits).
        records = await store.apply_foreign_batch(list(events), apply, fold_into)
        placed = {event.ticket_id for event in events if isinstance(event, PLACING)}
        for ticket_id in sorted(placed):
            await place_linked(store, records[ticket_id])

    return BatchConsumer[AnyEvent](broker, spec, AnyEvent, record_events)


async def place_linked(store: RecordStore, lead: TicketRecord) -> None:
    """The lead's reports follow it wherever it is placed, so each is known to exactly
    those who know the lead (a redelivered event changes nothing the second time)."""
    for report_id in lead.linked_reports:
        await store.change(report_id, lambda report: (placed_like(report, lead), []))
