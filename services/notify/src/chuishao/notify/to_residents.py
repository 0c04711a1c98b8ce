"""A resident's message: the reporter's contact from intake, the first channel that
reaches them, and the residents' protections (quiet hours, a rate limit, opting out)."""

from dataclasses import KW_ONLY, dataclass

from nats.aio.client import Client

from chuishao.common.domain import Priority
from chuishao.common.events import ResidentNotified
from chuishao.common.ids import reporter_ref
from chuishao.common.publishing import publish_event
from chuishao.notify.attempt import Attempt, Settled, Unsent, skip
from chuishao.notify.channels import ResidentChannel
from chuishao.notify.contacts import ContactUnavailable, reporter_contact
from chuishao.notify.facts import FactsStore
from chuishao.notify.held import HeldJobs
from chuishao.notify.idempotency import SendLedger
from chuishao.notify.messages import Messages
from chuishao.notify.outcomes import SendResult
from chuishao.notify.protections import QuietHours, RateLimiter
from chuishao.notify.settings import NotifySettings

PRODUCER = "notify"


@dataclass(frozen=True)
class Holds:
    """When a resident's message waits: the quiet hours (not for an emergency) and the
    recipient's rate window; a held job is sent again later by the held-jobs relay."""

    quiet_hours: QuietHours
    limiter: RateLimiter
    held: HeldJobs

    async def hold_if_needed(self, attempt: Attempt, ref: str) -> str | None:
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

    async def _now_emergency(self, attempt: Attempt) -> bool:
        """A job made before triage found the danger (a receipt) is an emergency now."""
        known = await FactsStore(self.held.redis).priority(attempt.job.event.ticket_id)
        return known == Priority.EMERGENCY


@dataclass(eq=False)
class ToResidents:
    nc: Client
    _: KW_ONLY
    channels: list[ResidentChannel]
    messages: Messages
    holds: Holds
    ledger: SendLedger
    settings: NotifySettings

    async def send(self, attempt: Attempt) -> Settled | Unsent:
        job = attempt.job
        ticket_id = job.notice.recipient
        fallback = getattr(job.event, "reporter_ref", None) or f"reporter-of:{ticket_id}"
        try:
            contact = await reporter_contact(
                self.nc, ticket_id, self.settings.contact_timeout_seconds
            )
        except ContactUnavailable as error:
            return Unsent(SendResult.retry(f"intake did not answer: {error}"), fallback, "resident")
        if contact is None or contact.phone is None:
            return await skip(
                self.ledger, attempt, fallback, "resident", "no way to reach the reporter"
            )
        ref = reporter_ref(self.settings.reporter_ref_secret.get_secret_value(), contact.phone)
        if contact.opted_out:
            return await skip(self.ledger, attempt, ref, "resident", "the resident opted out")
        channel = next((c for c in self.channels if c.can_reach(contact)), None)
        if channel is None:
            return await skip(
                self.ledger, attempt, ref, "resident", "no channel can reach the resident"
            )
        held = await self.holds.hold_if_needed(attempt, ref)
        if held is not None:
            return Settled("held", ref, channel.name, held)
        outcome = await channel.send(contact, self.messages.message(job))
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
        await publish_event(self.nc.jetstream(), notified)
        return Settled("sent", ref, channel.name, outcome.detail)
