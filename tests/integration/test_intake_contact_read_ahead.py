"""A rebuild of every ticket reads the contact entries in one pass over the bucket's
stream (`contacts.ReadAhead`): whatever the order it is asked in, and whatever happened
to the entries since (written again, deleted, another shard's), it answers what a
request per ticket (`ContactStore.first_entry`) answers, and it asks alone only for
what it did not find within its window."""

import random

from cryptography.fernet import Fernet, MultiFernet
from nats.js import JetStreamContext

from chuishao.intake.contacts import ContactEntry, ContactStore, ReadAhead
from chuishao.intake.projection import created
from support.factories import submitted

COUNT = 60


def ids(numbers: range | list[int]) -> list[str]:
    return [f"T20260105{n:06d}" for n in numbers]


class Counted(ContactStore):
    """Counts the entries asked for alone."""

    alone = 0

    async def first_entry(self, ticket_id: str) -> ContactEntry | None:
        Counted.alone += 1
        return await super().first_entry(ticket_id)


async def filled(js: JetStreamContext) -> ContactStore:
    store = await Counted.open(js, MultiFernet([Fernet(Fernet.generate_key())]))
    for ticket_id in ids(range(COUNT)):
        await store.keep(created(submitted(ticket_id=ticket_id)), f"key-{ticket_id}")
    return store


async def answers(reader: ReadAhead, asked: list[str], stretch: int) -> list[str | None]:
    found = []
    for start in range(0, len(asked), stretch):
        for entry in await reader.entries(asked[start : start + stretch]):
            found.append(None if entry is None else entry.model_dump_json())
    return found


async def by_request(store: ContactStore, asked: list[str]) -> list[str | None]:
    entries = [await store.first_entry(t) for t in asked]
    return [None if e is None else e.model_dump_json() for e in entries]


async def test_in_stream_order_it_asks_for_nothing_alone(js: JetStreamContext, clean: None) -> None:
    store = await filled(js)
    asked = ids(range(COUNT))
    expected = await by_request(store, asked)
    Counted.alone = 0
    assert await answers(ReadAhead(store, js, lambda _: True, window=8), asked, 7) == expected
    assert Counted.alone == 0
    assert all(expected)


async def test_whatever_the_order_and_history_it_answers_as_requests_do(
    js: JetStreamContext, clean: None
) -> None:
    store = await filled(js)
    # Written again since (a reporter erased: the entry moves to the stream's end),
    # deleted, and never written.
    for ticket_id in ids([3, 17, 40]):
        entry = await store.first_entry(ticket_id)
        assert entry is not None
        record = entry.record.model_copy(update={"description": "erased"})
        await store.keep(record, entry.idempotency_key)
    for ticket_id in ids([5, 22]):
        await store.kv.delete(ticket_id)
    asked = ids(range(COUNT + 3))  # three never written
    random.Random(5).shuffle(asked)
    # Roughly in order, as the stream gives tickets, with some out of place.
    asked = sorted(asked[:50]) + asked[50:]
    expected = await by_request(store, asked)
    assert expected.count(None) == 5
    for window, stretch in ((1, 1), (3, 4), (8, 7), (100, 30)):
        Counted.alone = 0
        reader = ReadAhead(store, js, lambda _: True, window=window)
        assert await answers(reader, asked, stretch) == expected, (window, stretch)
        assert len(reader.ahead) <= window
        if window >= COUNT:
            assert Counted.alone <= 3  # only the never written are asked alone
    # Another shard's entries are not kept ahead; asked for anyway, they are asked alone.
    mine = {t for t in ids(range(COUNT)) if int(t[-2:]) % 2 == 0}
    reader = ReadAhead(store, js, lambda t: t in mine, window=100)
    some = [t for t in asked if t in mine][:20] + ids([1, 7])
    assert await answers(reader, some, 9) == await by_request(store, some)
    assert reader.ahead
    assert not set(reader.ahead) - mine


async def test_what_is_not_there_costs_a_window_not_the_stream(
    js: JetStreamContext, clean: None
) -> None:
    store = await filled(js)
    reader = ReadAhead(store, js, lambda _: True, window=5)
    assert await reader.entries(ids([999_999])) == [None]
    assert reader.read == 5
    # What it read on the way is kept for what is asked next.
    Counted.alone = 0
    assert all(await reader.entries(ids(range(5))))
    assert Counted.alone == 0
