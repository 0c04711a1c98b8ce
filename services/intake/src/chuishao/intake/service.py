"""Intake's use cases, independent of HTTP or NATS: the entry points stay thin."""

from dataclasses import dataclass

from nats.js import JetStreamContext

from chuishao.common.catalogue import Category
from chuishao.common.clock import Clock
from chuishao.common.commands import SubmitReport
from chuishao.common.events import TicketSubmitted
from chuishao.common.ids import reporter_ref
from chuishao.common.kv import KvView
from chuishao.common.publishing import publish_event
from chuishao.intake.projection import history_entry
from chuishao.intake.records import Status, TicketRecord
from chuishao.intake.store import TicketStore

PRODUCER = "intake"


class UnknownCategory(ValueError):
    pass


class CatalogueNotLoaded(RuntimeError):
    pass


@dataclass(frozen=True)
class Submitted:
    ticket_id: str
    status: Status
    created: bool


@dataclass
class Intake:
    store: TicketStore
    js: JetStreamContext
    catalogue: KvView[Category]
    clock: Clock
    reporter_secret: str
    publish_timeout: float = 5.0

    async def submit(self, command: SubmitReport, idempotency_key: str | None = None) -> Submitted:
        """Store, publish, and return only once JetStream holds the report."""
        if not self.catalogue.loaded.is_set():
            raise CatalogueNotLoaded("the category catalogue has not loaded yet")
        if command.category is not None and self.catalogue.get(command.category) is None:
            raise UnknownCategory(command.category)
        now = self.clock.now()
        ticket_id = await self.store.next_ticket_id(now)
        phone = command.reporter.phone if command.reporter else None
        event = TicketSubmitted.first(
            producer=PRODUCER,
            clock=self.clock,
            ticket_id=ticket_id,
            category=command.category,
            description=command.description,
            priority=command.priority,
            channel=command.channel,
            location=command.location,
            media_urls=tuple(str(url) for url in command.media_urls),
            reporter_ref=reporter_ref(self.reporter_secret, phone) if phone else None,
        )
        record = TicketRecord(
            ticket_id=ticket_id,
            status=Status.SUBMITTED,
            category=event.category,
            description=event.description,
            priority=event.priority,
            channel=event.channel,
            location=event.location,
            media_urls=event.media_urls,
            reporter=command.reporter,
            reporter_ref=event.reporter_ref,
            submitted_at=now,
            updated_at=now,
            history=[history_entry(event)],
        )
        stored_id = await self.store.create(record, event, idempotency_key)
        if stored_id != ticket_id:
            existing = await self.store.get(stored_id)
            assert existing is not None
            # The first attempt may have stored the report but not seen its PubAck.
            queued = await self.store.queued(existing.history[0].event_id)
            if queued is not None:
                await publish_event(self.js, queued, timeout=self.publish_timeout)
                await self.store.confirm(queued.event_id)
            return Submitted(stored_id, existing.status, created=False)
        await publish_event(self.js, event, timeout=self.publish_timeout)
        await self.store.confirm(event.event_id)
        return Submitted(ticket_id, record.status, created=True)
