"""Answers other services' questions that events must not carry the answer to."""

from faststream.nats import NatsBroker

from chuishao.common import subjects
from chuishao.common.queries import ReporterContact, ReporterContactQuery
from chuishao.intake.records import TicketRecord
from chuishao.intake.store import RecordStore


async def contact_of(store: RecordStore, record: TicketRecord) -> ReporterContact:
    phone = record.reporter.phone if record.reporter else None
    return ReporterContact(
        ticket_id=record.ticket_id,
        phone=phone,
        name=record.reporter.name if record.reporter else None,
        opted_out=await store.opted_out(phone) if phone else False,
    )


def register(broker: NatsBroker, store: RecordStore) -> None:
    # Core request/reply in one queue group: any intake replica may answer. Unit users
    # cannot publish here (see chuishao.devstack.nats_auth); only the services user can.
    @broker.subscriber(subjects.REPORTER_CONTACT, queue="intake", max_workers=16)
    async def reporter_contact(query: ReporterContactQuery) -> ReporterContact | None:
        record = await store.get(query.ticket_id)
        if record is None:
            return None
        linked = [await contact_of(store, r) for r in await store.get_many(record.linked_reports)]
        return (await contact_of(store, record)).model_copy(update={"linked": tuple(linked)})
