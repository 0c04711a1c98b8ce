"""A unit's delivery: its webhook, signed, once in effect, then `UnitNotified`."""

from dataclasses import KW_ONLY, dataclass

from nats.aio.client import Client

from chuishao.common.events import UnitNotified
from chuishao.common.kv import KvView
from chuishao.common.presence import Presence, page_open
from chuishao.common.publishing import publish_event
from chuishao.common.unit_contacts import UnitContact
from chuishao.notify.attempt import Attempt, Settled, Unsent, skip
from chuishao.notify.channels import ResidentChannel
from chuishao.notify.contacts import ResidentContact, masked
from chuishao.notify.idempotency import SendLedger
from chuishao.notify.messages import Messages
from chuishao.notify.webhooks import WebhookSender, encode_body

PRODUCER = "notify"


@dataclass(eq=False)
class ToUnits:
    nc: Client
    _: KW_ONLY
    units: KvView[UnitContact]
    webhooks: WebhookSender
    messages: Messages
    ledger: SendLedger

    async def send(self, attempt: Attempt) -> Settled | Unsent:
        job = attempt.job
        unit_id = job.notice.recipient
        unit = self.units.get(unit_id)
        if unit is None or unit.webhook_url is None:
            return await skip(
                self.ledger, attempt, unit_id, "webhook", "the unit has no webhook any more"
            )
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
        await publish_event(self.nc.jetstream(), notified)
        return Settled("sent", unit_id, "webhook", outcome.detail)


@dataclass(eq=False, kw_only=True)
class ToDutyPhones:
    """A unit's duty desk by SMS (the report-in reminder, a hotspot warning to a command
    centre): the directory's duty phone, through the same SMS gateway residents are texted
    by — a reminder not while a clerk of the unit has the console's queue open
    (`presence`). The resident's link is never in it; the number is logged masked."""

    units: KvView[UnitContact]
    channels: list[ResidentChannel]
    messages: Messages
    ledger: SendLedger
    presence: KvView[Presence] | None = None

    async def send(self, attempt: Attempt) -> Settled | Unsent:
        job = attempt.job
        unit_id = job.notice.recipient
        unit = self.units.get(unit_id)
        if unit is None or not unit.duty_phone:
            return await skip(
                self.ledger, attempt, unit_id, "duty_sms", "the unit has no duty phone"
            )
        reminder = job.notice.template == "report_reminder"
        if reminder and self.presence is not None and page_open(self.presence, unit_id, attempt.at):
            # A clerk has the console's queue open: the page counts down and shows it.
            # (A hotspot warning is texted by policy whatever page is open.)
            return await skip(
                self.ledger, attempt, unit_id, "duty_sms", "the unit's console page is open"
            )
        contact = ResidentContact(ticket_id=job.event.ticket_id, phone=unit.duty_phone, name=None)
        channel = next((c for c in self.channels if c.name == "sms" and c.can_reach(contact)), None)
        if channel is None:
            why = "no SMS gateway configured"
            return await skip(self.ledger, attempt, unit_id, "duty_sms", why)
        # The resident's own link: never to a unit's phone.
        message = self.messages.message(job, unit.name, withheld=("link",))
        outcome = await channel.send(contact, message)
        if outcome.kind != "delivered":
            return Unsent(outcome, unit_id, "duty_sms")
        await self.ledger.settle(job.job_id, "duty_sms")
        return Settled("sent", unit_id, "duty_sms", f"to {masked(unit.duty_phone)}")
