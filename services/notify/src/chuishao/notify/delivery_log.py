"""The delivery log of a ticket: every send, hold, retry, skip and failure, in order.
Queryable over NATS request/reply (subject internal.notify.delivery_log) and from the
command line: python -m chuishao.notify.delivery_log <ticket_id>."""

import argparse
import asyncio
from typing import Literal

import nats
from pydantic import AwareDatetime, BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from chuishao.common import subjects
from chuishao.common.domain import TicketId
from chuishao.notify import keys
from chuishao.notify.settings import NotifySettings

KEEP_SECONDS = 180 * 86_400
Status = Literal["sent", "held", "retrying", "failed", "skipped", "duplicate"]


class DeliveryLogEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    event_id: str
    event_type: str
    delivery_id: str | None = None
    recipient: str  # a unit id or a reporter reference, never an address of a person
    channel: str  # nats, webhook, sms, wechat, outbox, or "resident" before one is chosen
    template: str
    status: Status
    attempt: int | None = None
    detail: str = ""


class DeliveryLogQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: TicketId


class DeliveryLog(BaseModel):
    ticket_id: TicketId
    entries: list[DeliveryLogEntry]


class DeliveryLogStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def append(self, ticket_id: str, entry: DeliveryLogEntry) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            queue_entry(pipe, ticket_id, entry)
            await pipe.execute()

    async def read(self, ticket_id: str) -> DeliveryLog:
        raw = await self.redis.lrange(keys.delivery_log(ticket_id), 0, -1)
        return DeliveryLog(
            ticket_id=ticket_id,
            entries=[DeliveryLogEntry.model_validate_json(item) for item in raw],
        )


def queue_entry(pipe: Pipeline, ticket_id: str, entry: DeliveryLogEntry) -> None:
    """`append`'s writes on a pipeline that carries the caller's own (a batch's)."""
    key = keys.delivery_log(ticket_id)
    pipe.rpush(key, entry.model_dump_json())
    pipe.expire(key, KEEP_SECONDS)


async def ask(nats_url: str, ticket_id: str) -> DeliveryLog:
    nc = await nats.connect(nats_url)
    try:
        query = DeliveryLogQuery(ticket_id=ticket_id).model_dump_json().encode()
        reply = await nc.request(subjects.DELIVERY_LOG, query, timeout=5)
    finally:
        await nc.close()
    return DeliveryLog.model_validate_json(reply.data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Show notify's delivery log of a ticket")
    parser.add_argument("ticket_id")
    parser.add_argument("--json", action="store_true", help="print the raw JSON")
    args = parser.parse_args(argv)
    log = asyncio.run(ask(NotifySettings().nats_url, args.ticket_id))
    if args.json:
        print(log.model_dump_json(indent=2))
        return
    for e in log.entries:
        print(
            f"{e.at:%Y-%m-%d %H:%M:%S}  {e.status:<9} {e.channel:<8} {e.template:<11} "
            f"{e.recipient:<24} {e.event_type}  {e.detail}"
        )


if __name__ == "__main__":
    main()
