"""Intake's records consumer, a batch at a time (`RecordStore.apply_foreign_batch`), writes
exactly what it wrote one event at a time: every record and every index key, on a real
Redis, for batches cut anywhere across the tickets' histories; a batch delivered again
changes nothing; a batch with an event of an unknown ticket writes nothing."""

import random
from typing import Any

import pytest
from redis.asyncio import Redis

from chuishao.common.events import TicketSubmitted
from chuishao.intake.projection import apply, created, fold_into
from chuishao.intake.store import RecordStore
from support.monthly_history import generated
from support.records import dump, read_by_intake
from support.servers import Servers
from support.supervision import scripted_day


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
