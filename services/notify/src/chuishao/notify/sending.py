"""Runs one delivery job: a unit's webhook or a message to a resident, exactly once in
effect, and says what should happen to the message (chuishao.notify.retry decides).

The two audiences are their own modules (to_units, to_residents); this one claims the
job, records each attempt in the delivery log, and reports a failure once."""

import random

import structlog
from nats.aio.client import Client

from chuishao.common.clock import Clock
from chuishao.common.events import DeliveryFailed, Event
from chuishao.common.publishing import publish_event
from chuishao.notify.attempt import Attempt, Settled, Unsent
from chuishao.notify.delivery_log import DeliveryLogEntry, DeliveryLogStore, Status
from chuishao.notify.idempotency import SendLedger
from chuishao.notify.jobs import DeliveryJob
from chuishao.notify.retry import Decision, RetryPolicy, after_failure
from chuishao.notify.settings import NotifySettings
from chuishao.notify.to_residents import ToResidents
from chuishao.notify.to_units import ToDutyPhones, ToUnits

PRODUCER = "notify"
log = structlog.get_logger()

__all__ = ["Decision", "Deliveries"]


class Deliveries:
    def __init__(
        self,
        nc: Client,
        *,
        to_units: ToUnits,
        to_residents: ToResidents,
        to_duty_phones: ToDutyPhones,
        ledger: SendLedger,
        history: DeliveryLogStore,
        clock: Clock,
        settings: NotifySettings,
        rng: random.Random | None = None,
    ) -> None:
        self.nc = nc
        self.to_units = to_units
        self.to_residents = to_residents
        self.to_duty_phones = to_duty_phones
        self.ledger = ledger
        self.history = history
        self.clock = clock
        self.settings = settings
        self.retry = RetryPolicy(
            settings.delivery_attempts, settings.retry_base_seconds, settings.retry_cap_seconds
        )
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets

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
                result = await self.to_units.send(attempt)
            elif job.notice.audience == "duty_phone":
                result = await self.to_duty_phones.send(attempt)
            else:
                result = await self.to_residents.send(attempt)
        finally:
            await self.ledger.release(job.job_id)
        if isinstance(result, Settled):
            await self._record(
                attempt, result.status, result.recipient, result.channel, result.detail
            )
            return Decision("done")
        return await self._after_failure(attempt, result)

    async def _after_failure(self, attempt: Attempt, unsent: Unsent) -> Decision:
        decision = after_failure(
            unsent.outcome,
            attempt.number,
            self.retry,
            self.rng,
            recipient=unsent.recipient,
            channel=unsent.channel,
        )
        if decision.kind == "retry":
            detail = unsent.outcome.detail
            await self._record(
                attempt,
                "retrying",
                unsent.recipient,
                unsent.channel,
                f"{detail}; next try in {decision.delay:.1f}s",
            )
            log.warning(
                "delivery_will_retry",
                job_id=attempt.job.job_id,
                detail=detail,
                attempt=attempt.number,
                delay_s=round(decision.delay, 2),
            )
        return decision

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
        await publish_event(self.nc.jetstream(), failure)
        log.error(
            "delivery_failed",
            job_id=job.job_id,
            reason=decision.reason,
            error=decision.error,
            attempts=number,
        )

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
