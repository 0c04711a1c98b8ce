"""Intake's use cases, independent of HTTP, Open311 or NATS: the entry points stay thin."""

import functools
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from faststream.nats import NatsBroker
from nats.js import JetStreamContext

from chuishao.common.categories import Category
from chuishao.common.clock import Clock
from chuishao.common.commands import SplitReport, SubmitReport, TicketCommand, TransferTicket
from chuishao.common.domain import Channel
from chuishao.common.errors import ApiError
from chuishao.common.events import Event, ReportLinked, ReportSplit, TicketSubmitted
from chuishao.common.ids import derived_id, reporter_ref
from chuishao.common.kv import KvView
from chuishao.common.place_names import PlaceName
from chuishao.common.publishing import check_size
from chuishao.intake import attributes
from chuishao.intake.auth import ApiKeys
from chuishao.intake.contacts import ContactStore
from chuishao.intake.lifecycle import (
    OPEN,
    Actor,
    CommandRejected,
    EventIds,
    IllegalTransition,
    NotYours,
    Status,
    UnknownTicket,
    check_state,
    decide,
)
from chuishao.intake.projection import apply, created, placed_like
from chuishao.intake.records import TicketRecord
from chuishao.intake.scopes import can_see
from chuishao.intake.store import RecordStore

PRODUCER = "intake"


def submit_key(client: str, command: SubmitReport, idempotency_key: str | None) -> str | None:
    """The stored form of a report's Idempotency-Key: scoped to its client and to the
    report itself (a digest of the validated command), so only a true retry matches."""
    if not idempotency_key:
        return None
    digest = hashlib.sha256(command.model_dump_json().encode()).hexdigest()[:32]
    return f"submit:{client}:{digest}:{idempotency_key}"


class UnknownCategory(ValueError):
    pass


class CatalogueNotLoaded(RuntimeError):
    pass


@dataclass(frozen=True)
class Submitted:
    ticket_id: str
    status: Status
    created: bool
    linked_to: str | None = None


@dataclass
class Intake:
    store: RecordStore
    broker: NatsBroker
    catalogue: KvView[Category]
    keys: ApiKeys
    clock: Clock
    reporter_secret: str
    publish_timeout: float = 5.0
    duplicate_radius_m: float = 150.0
    duplicate_window: timedelta = timedelta(hours=72)
    # Set at start-up (it lives in JetStream): chuishao.intake.contacts.
    contacts: ContactStore | None = None
    # The directory's places (which street a grid is in): chuishao.intake.proactive.
    places: KvView[PlaceName] | None = None

    @functools.cached_property
    def js(self) -> JetStreamContext:
        return self.broker.connection.jetstream()

    async def submit(
        self,
        command: SubmitReport,
        idempotency_key: str | None = None,
        client: str = "internal",
        media: Callable[[str], Awaitable[tuple[str, ...]]] | None = None,
        person: str | None = None,
    ) -> Submitted:
        """Store, publish, and return only once JetStream holds the report.

        `client` is who sends it (an authenticated key's holder, or `anon:<channel>`;
        "internal" for the services' own NATS callers): an Idempotency-Key counts only
        within one client and for one report, so another client's key — or a reused key
        with a different report — never returns someone else's ticket.

        `media` stores photos uploaded with the report (Open311's multipart `media`) once
        the ticket has its id, and returns their URLs, which join `media_urls`. `person`: the
        console's person who filed it (an operator for a caller), named in the history."""
        if not self.catalogue.loaded.is_set():
            raise CatalogueNotLoaded("the category catalogue has not loaded yet")
        if command.category is not None:
            category = self.catalogue.get(command.category)
            if category is None:
                raise UnknownCategory(command.category)
            attributes.check(category, command.attributes)
        elif command.attributes:
            raise attributes.InvalidAttribute("attributes", "attributes need a category")
        now = self.clock.now()
        ticket_id = await self.store.next_ticket_id(now)
        uploaded = await media(ticket_id) if media is not None else ()
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
            media_urls=(*(str(url) for url in command.media_urls), *uploaded),
            reporter_ref=reporter_ref(self.reporter_secret, phone) if phone else None,
            attributes=command.attributes,
            answered=command.answered,
            person=person,
        )
        # An enquiry answered on the call is no second report of anything; a proactive
        # ticket is the centre's own answer to the reports already there, never one more.
        repeats = command.answered or command.channel == Channel.PROACTIVE
        primary = None if repeats else await self._duplicate_of(command, now)
        record = created(
            event,
            reporter=command.reporter,
            linked_to=primary[0].ticket_id if primary else None,
            submitted_at=now,
        )
        # A linked report is never routed itself: it is placed where its lead is (and
        # follows it when the lead is placed later, chuishao.intake.consumers).
        if primary is not None:
            record = placed_like(record, primary[0])
        # A duplicate is not routed: its ReportLinked goes out instead of TicketSubmitted
        # (which is kept in the record's history, to be sent if the report is split out).
        outgoing: Event = (
            event
            if primary is None
            else ReportLinked.about(
                ticket_id=primary[0].ticket_id,
                correlation_id=event.correlation_id,
                producer=PRODUCER,
                occurred_at=now,
                event_id=derived_id(event.event_id, "linked"),
                duplicate_ticket_id=ticket_id,
                distance_m=primary[1],
                reporter_ref=event.reporter_ref,
                description=event.description,
                media_urls=event.media_urls,
            )
        )
        check_size(event)  # 413 before anything is written (the larger of the two events)
        # Before Redis and the 201: what no event carries (the reporter) survives a Redis
        # that forgets its last writes (chuishao.intake.contacts, chuishao.intake.rebuild).
        if self.contacts is None:
            raise RuntimeError("the contact store opens at start-up")
        stored_key = submit_key(client, command, idempotency_key)
        await self.contacts.keep(record, stored_key)
        stored_id = await self.store.create(record, outgoing, stored_key)
        if stored_id != ticket_id:
            existing = await self.store.get(stored_id)
            assert existing is not None
            # The first attempt may have stored the report but not seen its PubAck.
            await self._publish([existing.history[0].event_id])
            await self._publish([derived_id(existing.history[0].event_id, "linked")])
            return Submitted(stored_id, existing.status, False, existing.linked_to)
        await self._publish_events([outgoing])
        return Submitted(ticket_id, record.status, True, record.linked_to)

    async def _duplicate_of(
        self, command: SubmitReport, now: datetime
    ) -> tuple[TicketRecord, float] | None:
        where = command.location
        if command.category is None or where.lat is None or where.long is None:
            return None
        return await self.duplicate_of(command.category, where.long, where.lat, now)

    async def duplicate_of(
        self, category: str, long: float, lat: float, now: datetime
    ) -> tuple[TicketRecord, float] | None:
        """The open ticket a report of this category at this point repeats (its record, and
        how far): close by, recent, not yet resolved (a report filed now joins it)."""
        nearby = await self.store.nearby_open(category, long, lat, self.duplicate_radius_m)
        for ticket_id, distance in nearby:
            candidate = await self.store.get(ticket_id)
            if (
                candidate is not None
                and candidate.status in OPEN
                and candidate.status != Status.RESOLVED
                and now - candidate.submitted_at <= self.duplicate_window
            ):
                return candidate, distance
        return None

    async def split(self, command: SplitReport, actor: Actor) -> TicketRecord:
        """Route a wrongly linked report on its own (a unit of the ticket, or a supervisor)."""
        report = await self.store.get(command.ticket_id)
        primary = await self.store.get(report.linked_to) if report and report.linked_to else None
        if report is None or not (
            can_see(actor, report) or (primary is not None and can_see(actor, primary))
        ):
            raise UnknownTicket("unknown_ticket", ticket_id=command.ticket_id)
        if report.status != Status.LINKED or primary is None:
            raise IllegalTransition("not_linked")
        in_scope = actor.is_supervisor and can_see(actor, primary)
        if not in_scope and primary.assignment(actor.id) is None:
            raise NotYours("split_by_lead_unit")
        now = self.clock.now()
        split = ReportSplit.about(
            ticket_id=primary.ticket_id,
            correlation_id=primary.correlation_id,
            producer=PRODUCER,
            occurred_at=now,
            event_id=derived_id(report.history[0].event_id, "split", str(report.version)),
            report_ticket_id=report.ticket_id,
            split_by=actor.id,
            person=actor.person,
        )
        resubmitted = TicketSubmitted.about(
            ticket_id=report.ticket_id,
            correlation_id=report.correlation_id,
            producer=PRODUCER,
            occurred_at=now,
            event_id=derived_id(report.history[0].event_id, "resubmitted", str(report.version)),
            category=report.category,
            description=report.description,
            priority=report.priority,
            channel=report.channel,
            location=report.location,
            media_urls=report.media_urls,
            reporter_ref=report.reporter_ref,
        )

        def change(record: TicketRecord) -> tuple[TicketRecord, list[Event]]:
            check_state(record, command)
            return apply(record, split), [split, resubmitted]

        result = await self.store.change(report.ticket_id, change)
        assert result is not None
        await self._publish_events(result[1])
        return result[0]

    async def execute(
        self, command: TicketCommand, actor: Actor, idempotency_key: str | None = None
    ) -> TicketRecord:
        """Run a lifecycle command: decide, store with its events atomically, publish."""
        if isinstance(command, SplitReport):
            return await self.split(command, actor)
        if isinstance(command, TransferTicket):
            self._check_unit(command.to_unit_id)
        # A key counts within its caller and its ticket: another caller's key, or the same
        # key sent about another ticket, never returns a ticket it was not meant for.
        scoped_key = (
            f"cmd:{actor.kind}:{actor.id}:{command.ticket_id}:{idempotency_key}"
            if idempotency_key
            else None
        )
        if scoped_key and (earlier := await self.store.remembered(scoped_key)):
            record = await self.store.get(earlier["ticket_id"])
            assert record is not None
            await self._publish(
                [entry.event_id for entry in record.history if entry.producer == PRODUCER]
            )
            return record
        now = self.clock.now()

        def change(record: TicketRecord) -> tuple[TicketRecord, list[Event]]:
            events = decide(record, command, actor, now, EventIds(scoped_key, record.ticket_id))
            for event in events:
                record = apply(record, event)
            return record, events

        result = await self.store.change(command.ticket_id, change, scoped_key)
        if result is None:
            raise UnknownTicket("unknown_ticket", ticket_id=command.ticket_id)
        record, events = result
        await self._publish_events(events)
        return record

    def _check_unit(self, unit_id: str) -> None:
        """A transfer names a unit of the directory; anything else would summon nobody."""
        directory = self.keys.unit_directory
        if not directory.loaded.is_set():
            raise ApiError(
                503,
                "unavailable",
                "单位目录尚未加载，请稍后重试",
                "The unit directory has not loaded yet; retry shortly",
                headers={"Retry-After": "2"},
            )
        if directory.get(unit_id) is None:
            raise ApiError(
                422,
                "unknown_unit",
                f"没有编号为 {unit_id} 的单位，请核对转办单位",
                f"There is no unit {unit_id}; check the unit to transfer to",
                field="to_unit_id",
            )

    async def read(self, ticket_id: str, actor: Actor) -> TicketRecord:
        record = await self.store.get(ticket_id)
        if record is None or not (can_see(actor, record) or await self._sees_lead(actor, record)):
            # "Not yours" and "no such ticket" answer alike: ids cannot be probed.
            raise UnknownTicket("unknown_ticket", ticket_id=ticket_id)
        return record

    async def _sees_lead(self, actor: Actor, record: TicketRecord) -> bool:
        """A linked report is readable by whoever may read the ticket it joined: its photos
        and words are for the units working on that ticket."""
        if record.linked_to is None or actor.kind == "resident":
            return False
        lead = await self.store.get(record.linked_to)
        return lead is not None and can_see(actor, lead)

    async def _publish_events(self, events: list[Event]) -> None:
        # In order (a rating before the reopen it causes), confirmed after the PubAck.
        await self.store.outbox.publish(self.js, events, timeout=self.publish_timeout)

    async def _publish(self, event_ids: list[str]) -> None:
        """Re-send whatever of these is still unconfirmed in the outbox."""
        for event_id in event_ids:
            queued = await self.store.outbox.queued(event_id)
            if queued is not None:
                await self._publish_events([queued])


__all__ = ["CommandRejected", "Intake", "Submitted"]
