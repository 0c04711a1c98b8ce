"""A delivery job: one outbound message notify still owes, per (event, recipient, channel).

Jobs travel on the NOTIFY_JOBS stream. They carry the cause event, never a resident's
phone number: the address is looked up when the job runs, so a stored, dead-lettered or
held job holds nothing personal.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict

from chuishao.common import subjects
from chuishao.common.domain import Priority
from chuishao.common.events import AnyEvent, Event
from chuishao.common.ids import derived_id

Template = Literal[
    "dispatch",
    "supervision",
    "urge",
    "urged_by_hand",
    "escalation",
    "receipt",
    "resolved",
    "linked",
    "call_now",
    "report_reminder",
    "hotspot",  # a hotspot warning to the street's command centre (hotspots.py)
]
# duty_phone: a unit's duty desk by SMS (its directory contact), for what must reach a
# person even when nobody watches the unit's webhook or the console.
Audience = Literal["unit", "resident", "duty_phone"]
JobChannel = Literal["webhook", "resident", "duty_sms"]


class Notice(BaseModel):
    """Who must hear about an event, and with which message."""

    model_config = ConfigDict(frozen=True)

    audience: Audience
    recipient: str  # a unit id, or the ticket id whose reporter is meant
    template: Template


class DeliveryJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    channel: JobChannel
    notice: Notice
    priority: Priority
    event: AnyEvent

    @classmethod
    def for_notice(
        cls, event: Event, notice: Notice, channel: JobChannel, priority: Priority
    ) -> "DeliveryJob":
        return cls(
            # The same (event, recipient, channel) always gives the same id: it is the
            # idempotency key, the Nats-Msg-Id and the id the receiver sees.
            job_id=derived_id(event.event_id, notice.audience, notice.recipient, channel),
            channel=channel,
            notice=notice,
            priority=priority,
            event=event,
        )

    @property
    def subject(self) -> str:
        return subjects.notify_job(self.channel, self.event.ticket_id)
