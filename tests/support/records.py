"""Intake's records in the batch tests: which events intake's records consumer reads, and
everything a Redis database holds, to compare two ways of writing the same records."""

from typing import Any

from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.events import Event
from chuishao.common.streams import INTAKE_RECORDS
from chuishao.supervision.keys import text


def read_by_intake(event: Event) -> bool:
    kind, _ = subjects.parse_ticket_event(subjects.for_event(event))
    return kind in INTAKE_RECORDS.event_kinds


async def dump(redis: Redis) -> dict[str, Any]:
    """Every key of the database and its value."""
    found: dict[str, Any] = {}
    async for raw in redis.scan_iter(count=1000):
        key = text(raw)
        kind = text(await redis.type(key))
        if kind == "string":
            found[key] = await redis.get(key)
        elif kind == "zset":
            found[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "hash":
            found[key] = await redis.hgetall(key)
        elif kind == "set":
            found[key] = sorted(await redis.smembers(key))
        else:
            found[key] = kind
    return found
