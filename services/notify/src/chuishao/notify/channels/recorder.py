"""The default resident channel, a recorder in place of a phone: messages land in a Redis
stream that the demo and the tests read. The number is stored masked.

Its configured and published name stays `outbox` (CHUISHAO_RESIDENT_CHANNELS,
`ResidentNotified.channel`): that is contract; the code's name says what it is, and is
not to be confused with the transactional outbox (chuishao.common.outbox)."""

from pydantic import BaseModel
from redis.asyncio import Redis

from chuishao.notify import keys
from chuishao.notify.channels import ResidentMessage
from chuishao.notify.contacts import ResidentContact, masked
from chuishao.notify.outcomes import SendResult
from chuishao.notify.settings import ResidentChannelName

RECORDED = keys.RECORDED
KEEP_ENTRIES = 100_000


class RecordedMessage(BaseModel):
    delivery_id: str
    ticket_id: str
    template: str
    to: str
    text: str


class RecorderChannel:
    name: ResidentChannelName = "outbox"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def can_reach(self, contact: ResidentContact) -> bool:
        return contact.phone is not None

    async def send(self, contact: ResidentContact, message: ResidentMessage) -> SendResult:
        entry = RecordedMessage(
            delivery_id=message.delivery_id,
            ticket_id=message.ticket_id,
            template=message.template,
            to=masked(contact.phone or ""),
            text=message.text,
        )
        await self.redis.xadd(
            RECORDED,
            {"entry": entry.model_dump_json()},
            maxlen=KEEP_ENTRIES,
            approximate=True,
        )
        return SendResult.delivered("written to the outbox")


async def read_recorded(redis: Redis, ticket_id: str | None = None) -> list[RecordedMessage]:
    rows = await redis.xrange(RECORDED) or []
    entries = [
        RecordedMessage.model_validate_json(fields[b"entry"]) for _, fields in rows if fields
    ]
    return [e for e in entries if ticket_id is None or e.ticket_id == ticket_id]
