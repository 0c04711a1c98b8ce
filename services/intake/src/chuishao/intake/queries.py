"""Answers other services' questions that events must not carry the answer to."""

from faststream.nats import NatsBroker

from chuishao.common import subjects
from chuishao.common.queries import ReporterContact, ReporterContactQuery
from chuishao.intake.store import TicketStore


def register(broker: NatsBroker, store: TicketStore) -> None:
    # Core request/reply, one queue group: any intake replica may answer. Only notify's
    # NATS user is allowed to publish on this subject (config/nats-accounts.conf).
    @broker.subscriber(subjects.REPORTER_CONTACT, queue="intake")
    async def reporter_contact(query: ReporterContactQuery) -> ReporterContact | None:
        record = await store.get(query.ticket_id)
        if record is None:
            return None
        reporter = record.reporter
        return ReporterContact(
            ticket_id=record.ticket_id,
            phone=reporter.phone if reporter else None,
            name=reporter.name if reporter else None,
            opted_out=await store.opted_out(reporter.phone)
            if reporter and reporter.phone
            else False,
        )
