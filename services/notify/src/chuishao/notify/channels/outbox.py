"""The default resident channel: messages land in a Redis stream that the demo and the
tests read, in place of a phone. The number is stored masked."""

from pydantic import BaseModel
from redis.asyncio import Redis

from chuishao.notify.channels import ResidentMessage
from chuishao.notify.contacts import ResidentContact, masked
from chuishao.notify.outcomes import Outcome
from chuishao.notify.settings import ResidentChannelName

OUTBOX = "notify:outbox"
KEEP_ENTRIES = 100_000


class OutboxEntry(BaseModel):
    delivery_id: str
    ticket_id: str
    template: str
    to: str
    text: str


class OutboxChannel:
    name: ResidentChannelName = "outbox"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def can_reach(self, contact: ResidentContact) -> bool:
        return contact.phone is not None

    async def send(self, contact: ResidentContact, message: ResidentMessage) -> Outcome:
        entry = OutboxEntry(
            delivery_id=message.delivery_id,
            ticket_id=message.ticket_id,
            template=message.template,
            to=masked(contact.phone or ""),
            text=message.text,
        )
        await self.redis.xadd(
            OUTBOX,
            {"entry": entry.model_dump_json()},
            maxlen=KEEP_ENTRIES,
            approximate=True,
        )
        return Outcome.delivered("written to the outbox")


async def read_outbox(redis: Redis, ticket_id: str | None = None) -> list[OutboxEntry]:
    rows = await redis.xrange(OUTBOX) or []
    entries = [OutboxEntry.model_validate_json(fields[b"entry"]) for _, fields in rows if fields]
    return [e for e in entries if ticket_id is None or e.ticket_id == ticket_id]
