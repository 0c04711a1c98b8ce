"""intake's rebuild holds the records it folds most recently changed as objects, the rest
as JSON (`Fold.hot_limit`): how many are objects must not change what it rebuilds, for
tickets whose events interleave, linked reports placed with their leads, and events
delivered twice."""

import random
from datetime import UTC, datetime

from chuishao.common.events import Event, ReportLinked, TicketAcknowledged
from chuishao.common.publishing import encode
from chuishao.intake.contacts import ContactEntry
from chuishao.intake.projection import created
from chuishao.intake.rebuild import BATCH, Fold
from chuishao.intake.records import TicketRecord
from support.factories import dispatched, submitted

AT = datetime(2026, 1, 5, 9, 2, tzinfo=UTC)
LEADS = 8


def stream() -> tuple[list[Event], dict[str, ContactEntry]]:
    """Twenty tickets, every fourth linked to the one three before it, their events
    shuffled across tickets (each ticket's own in order) and a few delivered again."""
    reports = [submitted(ticket_id=f"T20260105{n:06d}") for n in range(20)]
    contacts: dict[str, ContactEntry] = {}
    per_ticket: dict[int, list[Event]] = {}
    for n, report in enumerate(reports):
        if n % 4 == 3:  # its record comes from its contact entry, its event from the lead
            lead = reports[n - 3]
            record = created(report).model_copy(update={"linked_to": lead.ticket_id})
            contacts[report.ticket_id] = ContactEntry(record=record)
            linked = ReportLinked.caused_by(
                lead,
                producer="intake",
                occurred_at=AT,
                discriminator=report.ticket_id,
                duplicate_ticket_id=report.ticket_id,
                distance_m=5.0,
                description=report.description,
            )
            per_ticket[n - 3].insert(1, linked)  # before the lead is placed
            continue
        routed = dispatched(report)
        acknowledged = TicketAcknowledged.caused_by(
            routed, producer="intake", occurred_at=AT, unit_id="grid-heyuan"
        )
        per_ticket[n] = [report, routed, acknowledged]
    shuffle = random.Random(20)
    queues = list(per_ticket.values())
    events: list[Event] = []
    while any(queues):
        queue = shuffle.choice([q for q in queues if q])
        events.append(queue.pop(0))
        if shuffle.random() < 0.1:
            events.append(events[-1])  # delivered again: folded once
    return events, contacts


async def folded(
    events: list[Event], contacts: dict[str, ContactEntry], hot_limit: int
) -> dict[str, str]:
    async def first_entry(ticket_id: str) -> ContactEntry | None:
        return contacts.get(ticket_id)

    fold = Fold(first_entry, hot_limit=hot_limit)
    data = [encode(event) for event in events]
    for start in range(0, len(data), 7):  # stretches shorter than a ticket's span
        await fold.take_many(data[start : start + 7])
    assert len(fold) == len(fold.tickets())
    records = {}
    for ticket_id in sorted(fold.tickets()):
        record = fold.record(ticket_id)
        assert record is not None
        records[ticket_id] = record.stored_json()
    return records


async def test_records_held_as_objects_or_json_fold_the_same() -> None:
    events, contacts = stream()
    everything_hot = await folded(events, contacts, hot_limit=BATCH * 10)
    assert len(everything_hot) == 20
    for limit in (1, 2, 5):
        assert await folded(events, contacts, hot_limit=limit) == everything_hot
    # The linked reports were placed where their leads are, and the leads list them.
    for n in range(3, 20, 4):
        lead = TicketRecord.model_validate_json(everything_hot[f"T20260105{n - 3:06d}"])
        report = TicketRecord.model_validate_json(everything_hot[f"T20260105{n:06d}"])
        assert lead.linked_reports == [report.ticket_id]
        assert report.linked_to == lead.ticket_id
        assert report.street == lead.street
        assert len(lead.history) == 4  # submitted, linked, dispatched, acknowledged
