"""From a ticket event to its deliveries: the unit's own NATS subject at once, and a job
for every webhook call or resident message, which the deliveries consumer then runs."""

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
from chuishao.common.handled import mark_handled, was_handled
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
from chuishao.notify.delivery_log import DeliveryLogEntry, DeliveryLogStore
from chuishao.notify.facts import FactsStore
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
        if await was_handled(self.redis, NOTIFY.name, event):
            return []
        facts = await self.facts.remember(event)
        if (isinstance(event, TicketDispatched) and event.priority == Priority.EMERGENCY) or (
            isinstance(event, TicketTriaged) and event.danger
        ):
            # Found dangerous after the receipt went out: what quiet hours hold goes now.
            await self.held.expedite(event.ticket_id, self.clock.now())
        priority = priority_of(event, facts)
        jobs: list[DeliveryJob] = []
        for notice in self._notices(event, facts):
            if notice.audience == "unit":
                await self._to_unit_subject(event, notice)
                unit = self.units.get(notice.recipient)
                if unit is not None and unit.webhook_url is not None and self._by_webhook(notice):
                    jobs.append(DeliveryJob.for_notice(event, notice, "webhook", priority))
            elif notice.audience == "duty_phone":
                unit = self.units.get(notice.recipient)
                if unit is not None and unit.duty_phone:
                    jobs.append(DeliveryJob.for_notice(event, notice, "duty_sms", priority))
            else:
                jobs.append(DeliveryJob.for_notice(event, notice, "resident", priority))
        for job in jobs:
            await self.enqueue(job)
        await mark_handled(self.redis, NOTIFY.name, event)
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

    async def _to_unit_subject(self, event: Event, notice: Notice) -> None:
        unit_id = notice.recipient
        subject = subjects.unit_delivery(unit_id, event.kind, event.ticket_id)
        # The unit gets the event itself (the published contract). One event may go to
        # several units, so the de-duplication id names the unit too.
        headers = event_headers(event) | {"Nats-Msg-Id": f"{event.event_id}:{unit_id}"}
        await self.js.publish(subject, encode(event), headers=headers, timeout=5)
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
        await publish_event(self.js, notified)
        await self.history.append(
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
