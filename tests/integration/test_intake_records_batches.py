"""Intake's records consumer, a batch at a time (`RecordStore.apply_foreign_batch`), writes
exactly what it wrote one event at a time: every record and every index key, on a real
Redis, for batches cut anywhere across the tickets' histories; a batch delivered again
changes nothing; a batch with an event of an unknown ticket writes nothing."""

import random
from typing import Any

import pytest
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.events import Event, TicketSubmitted
from chuishao.common.streams import INTAKE_RECORDS
from chuishao.intake.projection import apply, created, fold_into
from chuishao.intake.store import RecordStore
from chuishao.supervision.keys import text
from support.monthly_history import generated
from support.servers import Servers
from support.supervision import scripted_day


def read_by_intake(event: Event) -> bool:
    kind, _ = subjects.parse_ticket_event(subjects.for_event(event))
    return kind in INTAKE_RECORDS.event_kinds


async def dump(redis: Redis) -> dict[str, Any]:
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


@pytest.fixture
async def stores(servers: Servers) -> Any:
    made: list[Redis] = []

    async def store(db: int, submitted: list[TicketSubmitted]) -> RecordStore:
        client = Redis.from_url(f"{servers.redis_url}/{db}")
        made.append(client)
        await client.flushdb()
        records = RecordStore(client)
        for event in submitted:
            assert await records.restore(created(event), None)
        return records

    yield store
    for client in made:
        await client.flushdb()
        await client.aclose()


async def test_batches_write_what_one_event_at_a_time_writes(stores: Any) -> None:
    events = generated(seed=8, tickets=80).events + scripted_day("R").events
    submitted = [event for event in events if isinstance(event, TicketSubmitted)]
    known = {event.ticket_id for event in submitted}
    foreign = [e for e in events if read_by_intake(e) and e.ticket_id in known]
    assert len(foreign) > 150
    one = await stores(1, submitted)
    for event in foreign:
        assert await one.apply_foreign(event, apply) is not None
    expected = await dump(one.redis)

    rng = random.Random(5)
    for db, size in ((2, 7), (3, 64), (4, 0)):
        batched = await stores(db, submitted)
        start = 0
        while start < len(foreign):
            step = size or rng.randint(1, 30)  # 0: cut at random places
            await batched.apply_foreign_batch(foreign[start : start + step], apply, fold_into)
            start += step
        assert await dump(batched.redis) == expected, size
        # Delivered again: nothing changes.
        await batched.apply_foreign_batch(foreign[-40:], apply, fold_into)
        assert await dump(batched.redis) == expected, size


async def test_an_unknown_ticket_fails_the_batch_and_writes_nothing(stores: Any) -> None:
    events = scripted_day("U").events
    submitted = [event for event in events if isinstance(event, TicketSubmitted)]
    foreign = [event for event in events if read_by_intake(event)]
    store = await stores(5, submitted[1:])  # the first ticket has no record
    before = await dump(store.redis)
    with pytest.raises(LookupError, match=submitted[0].ticket_id):
        await store.apply_foreign_batch(foreign, apply, fold_into)
    assert await dump(store.redis) == before
