"""Runs one delivery job: a unit's webhook or a message to a resident, exactly once in
effect, with the residents' protections, and says what should happen to the message."""

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from chuishao.common.clock import Clock
from chuishao.common.domain import Priority
from chuishao.common.events import DeliveryFailed, Event, ResidentNotified, UnitNotified
from chuishao.common.ids import reporter_ref
from chuishao.common.kv import KvView
from chuishao.common.publishing import publish_event
from chuishao.common.units import UnitContact
from chuishao.notify.channels import ResidentChannel, ResidentMessage
from chuishao.notify.contacts import ContactUnavailable, reporter_contact
from chuishao.notify.delivery_log import DeliveryLogEntry, DeliveryLogStore, Status
from chuishao.notify.facts import FactsStore
from chuishao.notify.held import HeldJobs
from chuishao.notify.idempotency import Ledger
from chuishao.notify.jobs import DeliveryJob
from chuishao.notify.messages import Messages
from chuishao.notify.outcomes import Outcome
from chuishao.notify.protections import QuietHours, RateLimiter
from chuishao.notify.retry import backoff_seconds
from chuishao.notify.settings import NotifySettings
from chuishao.notify.webhooks import WebhookSender, encode_body

PRODUCER = "notify"
log = structlog.get_logger()


@dataclass(frozen=True)
class Decision:
    """What to do with the job's message: ack it, nack it with a delay, or dead-letter it."""

    kind: Literal["done", "retry", "dead"]
    delay: float = 0.0
    reason: str = ""
    error: str = ""
    recipient: str = ""
    channel: str = ""


@dataclass(frozen=True)
class Attempt:
    job: DeliveryJob
    number: int  # 1 for the first delivery of this message
    at: datetime


@dataclass(frozen=True)
class Settled:
    """The job ended without a failure: sent, held for later, or not to be sent."""

    status: Status
    recipient: str
    channel: str
    detail: str = ""


@dataclass(frozen=True)
class Unsent:
    outcome: Outcome
    recipient: str
    channel: str


class Deliveries:
    def __init__(
        self,
        *,
        nc: Client,
        units: KvView[UnitContact],
        webhooks: WebhookSender,
        channels: list[ResidentChannel],
        messages: Messages,
        quiet_hours: QuietHours,
        limiter: RateLimiter,
        held: HeldJobs,
        ledger: Ledger,
        history: DeliveryLogStore,
        clock: Clock,
        settings: NotifySettings,
        rng: random.Random | None = None,
    ) -> None:
        self.nc = nc
        self.units = units
        self.webhooks = webhooks
        self.channels = channels
        self.messages = messages
        self.quiet_hours = quiet_hours
        self.limiter = limiter
        self.held = held
        self.ledger = ledger
        self.history = history
        self.clock = clock
        self.settings = settings
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    async def run(self, job: DeliveryJob, number: int) -> Decision:
        attempt = Attempt(job, number, self.clock.now())
        if await self.ledger.settled(job.job_id):
            # A redelivered or replayed job that already had its effect.
            log.info("delivery_already_settled", job_id=job.job_id)
            await self._record(
                attempt,
                "duplicate",
                job.notice.recipient,
                job.channel,
                "already delivered or settled: nothing sent",
            )
            return Decision("done")
        in_flight_seconds = int(self.settings.webhook_timeout_seconds) + 30
        if not await self.ledger.claim(job.job_id, in_flight_seconds):
            # Come back once that attempt has surely finished, one way or the other.
            return Decision("retry", delay=in_flight_seconds, error="another attempt in flight")
        try:
            if job.notice.audience == "unit":
                result = await self._to_unit(attempt)
            else:
                result = await self._to_resident(attempt)
        finally:
            await self.ledger.release(job.job_id)
        if isinstance(result, Settled):
            await self._record(
                attempt, result.status, result.recipient, result.channel, result.detail
            )
            return Decision("done")
        return await self._after_failure(attempt, result)

    async def _after_failure(self, attempt: Attempt, unsent: Unsent) -> Decision:
        outcome = unsent.outcome
        if outcome.kind == "retry" and attempt.number < self.settings.delivery_attempts:
            delay = backoff_seconds(
                attempt.number,
                self.settings.retry_base_seconds,
                self.settings.retry_cap_seconds,
                self.rng,
                outcome.retry_after,
            )
            await self._record(
                attempt,
                "retrying",
                unsent.recipient,
                unsent.channel,
                f"{outcome.detail}; next try in {delay:.1f}s",
            )
            log.warning(
                "delivery_will_retry",
                job_id=attempt.job.job_id,
                detail=outcome.detail,
                attempt=attempt.number,
                delay_s=round(delay, 2),
            )
            return Decision("retry", delay=delay)
        reason = "rejected" if outcome.kind == "rejected" else "retries_exhausted"
        return Decision(
            "dead",
            reason=reason,
            error=outcome.detail,
            recipient=unsent.recipient,
            channel=unsent.channel,
        )

    async def failed(self, job: DeliveryJob, decision: Decision, number: int, seq: int) -> None:
        """After the dead letter is stored: record the failure and tell the others."""
        attempt = Attempt(job, number, self.clock.now())
        await self._record(
            attempt,
            "failed",
            decision.recipient,
            decision.channel,
            f"{decision.reason}: {decision.error}",
        )
        failure = DeliveryFailed.caused_by(
            job.event,
            producer=PRODUCER,
            occurred_at=attempt.at,
            # One failure per message: a replay is a new message and may fail anew.
            discriminator=f"{job.job_id}:{seq}",
            recipient=decision.recipient,
            channel=decision.channel,
            reason=f"{decision.reason}: {decision.error}"[:500],
            attempts=number,
        )
        await publish_event(self.js, failure)
        log.error(
            "delivery_failed",
            job_id=job.job_id,
            reason=decision.reason,
            error=decision.error,
            attempts=number,
        )

    # --- units

    async def _to_unit(self, attempt: Attempt) -> Settled | Unsent:
        job = attempt.job
        unit_id = job.notice.recipient
        unit = self.units.get(unit_id)
        if unit is None or unit.webhook_url is None:
            await self.ledger.settle(job.job_id, "skipped")
            return Settled("skipped", unit_id, "webhook", "the unit has no webhook any more")
        url = str(unit.webhook_url)
        text = self.messages.render(job.notice.template, job.event, unit.name)
        body = encode_body(job.job_id, job.notice.template, text, job.event)
        outcome = await self.webhooks.send(
            unit_id, url, body, delivery_id=job.job_id, event_type=job.event.type, now=attempt.at
        )
        if outcome.kind != "delivered":
            return Unsent(outcome, unit_id, "webhook")
        await self.ledger.settle(job.job_id, "webhook")
        notified = UnitNotified.caused_by(
            job.event,
            producer=PRODUCER,
            occurred_at=attempt.at,
            discriminator=f"{unit_id}:webhook",
            unit_id=unit_id,
            channel="webhook",
            address=url,
        )
        await publish_event(self.js, notified)
        return Settled("sent", unit_id, "webhook", outcome.detail)

    # --- residents

    async def _to_resident(self, attempt: Attempt) -> Settled | Unsent:
        job = attempt.job
        ticket_id = job.notice.recipient
        fallback = getattr(job.event, "reporter_ref", None) or f"reporter-of:{ticket_id}"
        try:
            contact = await reporter_contact(
                self.nc, ticket_id, self.settings.contact_timeout_seconds
            )
        except ContactUnavailable as error:
            return Unsent(Outcome.retry(f"intake did not answer: {error}"), fallback, "resident")
        if contact is None or contact.phone is None:
            await self.ledger.settle(job.job_id, "skipped")
            return Settled("skipped", fallback, "resident", "no way to reach the reporter")
        ref = reporter_ref(self.settings.reporter_ref_secret.get_secret_value(), contact.phone)
        if contact.opted_out:
            await self.ledger.settle(job.job_id, "skipped")
            return Settled("skipped", ref, "resident", "the resident opted out")
        channel = next((c for c in self.channels if c.can_reach(contact)), None)
        if channel is None:
            await self.ledger.settle(job.job_id, "skipped")
            return Settled("skipped", ref, "resident", "no channel can reach the resident")
        held = await self._hold_if_needed(attempt, ref)
        if held is not None:
            return Settled("held", ref, channel.name, held)
        message = ResidentMessage(
            delivery_id=job.job_id,
            ticket_id=job.event.ticket_id,
            template=job.notice.template,
            text=self.messages.render(job.notice.template, job.event),
            params={k: str(v) for k, v in self.messages.variables(job.event, None).items() if v},
        )
        outcome = await channel.send(contact, message)
        if outcome.kind != "delivered":
            return Unsent(outcome, ref, channel.name)
        await self.ledger.settle(job.job_id, channel.name)
        notified = ResidentNotified.caused_by(
            job.event,
            producer=PRODUCER,
            occurred_at=attempt.at,
            discriminator=ticket_id,
            reporter_ref=ref,
            channel=channel.name,
            template=job.notice.template,
        )
        await publish_event(self.js, notified)
        return Settled("sent", ref, channel.name, outcome.detail)

    async def _now_emergency(self, attempt: Attempt) -> bool:
        """A job made before triage found the danger (a receipt) is an emergency now."""
        known = await FactsStore(self.held.redis).priority(attempt.job.event.ticket_id)
        return known == Priority.EMERGENCY

    async def _hold_if_needed(self, attempt: Attempt, ref: str) -> str | None:
        """Hold the job until the quiet hours end or the recipient's rate window reopens."""
        now = attempt.at
        if attempt.job.priority != Priority.EMERGENCY and not await self._now_emergency(attempt):
            until = self.quiet_hours.holds_until(now)
            if until is not None:
                await self.held.hold(attempt.job, until)
                return f"quiet hours, held until {until.isoformat()}"
        until = await self.limiter.reserve(ref, now)
        if until is not None:
            await self.held.hold(attempt.job, until)
            return f"rate limit, held until {until.isoformat()}"
        return None

    async def _record(
        self, attempt: Attempt, status: Status, recipient: str, channel: str, detail: str = ""
    ) -> None:
        event: Event = attempt.job.event
        await self.history.append(
            event.ticket_id,
            DeliveryLogEntry(
                at=attempt.at,
                event_id=event.event_id,
                event_type=event.type,
                delivery_id=attempt.job.job_id,
                recipient=recipient,
                channel=channel,
                template=attempt.job.notice.template,
                status=status,
                attempt=attempt.number,
                detail=detail,
            ),
        )
