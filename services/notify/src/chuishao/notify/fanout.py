"""From a ticket event to its deliveries: the unit's own NATS subject at once, and a job
for every webhook call or resident message, which the deliveries consumer then runs."""

import asyncio
from collections.abc import Awaitable, Sequence

import structlog
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.clock import Clock
from chuishao.common.domain import Priority
from chuishao.common.events import (
    Event,
    HotspotDetected,
    TicketDispatched,
    TicketTriaged,
    UnitNotified,
)
from chuishao.common.handled import queue_mark, unhandled
from chuishao.common.kv import KvView
from chuishao.common.publishing import (
    CORRELATION_HEADER,
    TICKET_HEADER,
    encode,
    event_headers,
    publish_event,
)
from chuishao.common.streams import NOTIFY
from chuishao.common.unit_contacts import UnitContact
from chuishao.notify.audience import Audience
from chuishao.notify.delivery_log import DeliveryLogEntry, DeliveryLogStore, queue_entry
from chuishao.notify.facts import FactsStore, queue_told
from chuishao.notify.held import HeldJobs
from chuishao.notify.hotspots import HotspotWarnings
from chuishao.notify.jobs import DeliveryJob, Notice
from chuishao.notify.planning import notices_for, priority_of

PRODUCER = "notify"
log = structlog.get_logger()


class FanOut:
    def __init__(
        self,
        *,
        js: JetStreamContext,
        redis: Redis,
        units: KvView[UnitContact],
        history: DeliveryLogStore,
        clock: Clock,
        hotspots: HotspotWarnings | None = None,
    ) -> None:
        self.js = js
        self.hotspots = hotspots
        self.redis = redis
        self.units = units
        self.facts = FactsStore(redis)
        self.held = HeldJobs(redis)
        self.history = history
        self.clock = clock

    async def handle(self, event: Event) -> list[DeliveryJob]:
        [jobs] = await self.handle_batch([event])
        return jobs

    async def handle_batch(self, events: Sequence[Event]) -> list[list[DeliveryJob]]:
        """A batch of ticket events in stream order, in a few round trips whatever its
        size: one read of what was handled, one of the tickets' facts (each event planned
        on what the events before it told), every publish in flight together, then the
        facts, the log and the handled marks in one transaction.
        Returns each event's jobs (none for one handled before).

        A crash before the marks repeats the batch: the publishes carry ids derived from
        the event, which JetStream's duplicate window drops."""
        places = await unhandled(self.redis, NOTIFY.name, events)
        fresh = [events[at] for at in places]
        known = await self.facts.known(fresh)
        for event in fresh:
            if (isinstance(event, TicketDispatched) and event.priority == Priority.EMERGENCY) or (
                isinstance(event, TicketTriaged) and event.danger
            ):
                # Found dangerous after the receipt went out: what quiet hours hold goes now.
                await self.held.expedite(event.ticket_id, self.clock.now())
        sends: list[Awaitable[object]] = []
        entries: list[tuple[str, DeliveryLogEntry]] = []
        jobs_of: dict[int, list[DeliveryJob]] = {}
        for at, event, facts in zip(places, fresh, known, strict=True):
            jobs = jobs_of[at] = self._plan(event, facts, sends, entries)
            sends.extend(self.enqueue(job) for job in jobs)
        # Started in this order, so written to the connection in this order; all settled
        # before a failure is raised (the batch is then handled again an event at a time).
        for outcome in await asyncio.gather(*sends, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome
        # What the events told, the log and the marks together: a batch that fails before
        # this wrote nothing, so taken again (alone or whole) it plans what it planned.
        async with self.redis.pipeline(transaction=True) as pipe:
            for event in fresh:
                queue_told(pipe, event)
            for ticket_id, entry in entries:
                queue_entry(pipe, ticket_id, entry)
            for event in fresh:
                queue_mark(pipe, NOTIFY.name, event)
            await pipe.execute()
        return [jobs_of.get(at, []) for at in range(len(events))]

    def _plan(
        self,
        event: Event,
        facts: Audience,
        sends: list[Awaitable[object]],
        entries: list[tuple[str, DeliveryLogEntry]],
    ) -> list[DeliveryJob]:
        """Who hears about `event`: its units' own subjects (added to `sends`, logged in
        `entries`), and the jobs for the deliveries consumer (returned)."""
        priority = priority_of(event, facts)
        jobs: list[DeliveryJob] = []
        for notice in self._notices(event, facts):
            if notice.audience == "unit":
                sends.extend(self._to_unit_subject(event, notice, entries))
                unit = self.units.get(notice.recipient)
                if unit is not None and unit.webhook_url is not None and self._by_webhook(notice):
                    jobs.append(DeliveryJob.for_notice(event, notice, "webhook", priority))
            elif notice.audience == "duty_phone":
                unit = self.units.get(notice.recipient)
                if unit is not None and unit.duty_phone:
                    jobs.append(DeliveryJob.for_notice(event, notice, "duty_sms", priority))
            else:
                jobs.append(DeliveryJob.for_notice(event, notice, "resident", priority))
        return jobs

    def _notices(self, event: Event, facts: Audience) -> list[Notice]:
        if isinstance(event, HotspotDetected):
            # Not a ticket's audience: the command centre of the warning's street.
            return self.hotspots.notices(event) if self.hotspots is not None else []
        return notices_for(event, facts)

    def _by_webhook(self, notice: Notice) -> bool:
        return self.hotspots is None or self.hotspots.by_webhook(notice)

    async def enqueue(self, job: DeliveryJob) -> None:
        await self.js.publish(
            job.subject,
            job.model_dump_json().encode(),
            headers={
                "Nats-Msg-Id": job.job_id,
                TICKET_HEADER: job.event.ticket_id,
                CORRELATION_HEADER: job.event.correlation_id,
            },
            timeout=5,
        )

    def _to_unit_subject(
        self, event: Event, notice: Notice, entries: list[tuple[str, DeliveryLogEntry]]
    ) -> list[Awaitable[object]]:
        """The publishes that tell the unit (the event on its own subject, and the
        `UnitNotified` record of it); the log entry goes to `entries`."""
        unit_id = notice.recipient
        subject = subjects.unit_delivery(unit_id, event.kind, event.ticket_id)
        # The unit gets the event itself (the published contract). One event may go to
        # several units, so the de-duplication id names the unit too.
        headers = event_headers(event) | {"Nats-Msg-Id": f"{event.event_id}:{unit_id}"}
        now = self.clock.now()
        notified = UnitNotified.caused_by(
            event,
            producer=PRODUCER,
            occurred_at=now,
            discriminator=f"{unit_id}:nats",
            unit_id=unit_id,
            channel="nats",
            address=subject,
        )
        entries.append(
            (
                event.ticket_id,
                DeliveryLogEntry(
                    at=now,
                    event_id=event.event_id,
                    event_type=event.type,
                    recipient=unit_id,
                    channel="nats",
                    template=notice.template,
                    status="sent",
                    detail=subject,
                ),
            )
        )
        return [
            self.js.publish(subject, encode(event), headers=headers, timeout=5),
            publish_event(self.js, notified),
        ]
