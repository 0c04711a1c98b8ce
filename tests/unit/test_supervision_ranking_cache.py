"""The big screen's ranking is read once per scope and month every few seconds, however
many screens refresh (chuishao.supervision.ranking_cache)."""

import asyncio

import pytest

from chuishao.supervision.assessment import RankedRow
from chuishao.supervision.ranking_cache import RankingCache


class Clock:
    def __init__(self) -> None:
        self.at = 100.0

    def __call__(self) -> float:
        return self.at


class Reads:
    """A ranking read that counts itself and, when `gate` is set, waits on it."""

    def __init__(self) -> None:
        self.count = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def __call__(self) -> list[RankedRow]:
        self.count += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("redis down")
        return []


async def test_screens_share_one_read_per_scope_and_month_within_the_ttl() -> None:
    clock, reads = Clock(), Reads()
    cache = RankingCache(ttl_seconds=5.0, now=clock)
    for _ in range(10):  # ten screens of the district refreshing
        await cache.get((None, "2026-12"), reads)
    assert reads.count == 1
    await cache.get((("qingshi",), "2026-12"), reads)  # another scope: its own read
    await cache.get((None, "2026-11"), reads)  # another month: its own read
    assert reads.count == 3
    clock.at += 4.9
    await cache.get((None, "2026-12"), reads)
    assert reads.count == 3
    clock.at += 0.2  # past the ttl: read afresh
    await cache.get((None, "2026-12"), reads)
    assert reads.count == 4


async def test_screens_asking_at_once_wait_on_the_read_in_flight() -> None:
    reads = Reads()
    reads.gate = asyncio.Event()
    cache = RankingCache(ttl_seconds=5.0, now=Clock())
    waiting = [asyncio.create_task(cache.get((None, "2026-12"), reads)) for _ in range(8)]
    await asyncio.sleep(0)  # let them all ask
    reads.gate.set()
    assert await asyncio.gather(*waiting) == [[]] * 8
    assert reads.count == 1


async def test_a_failed_read_is_not_kept() -> None:
    reads = Reads()
    reads.fail = True
    cache = RankingCache(ttl_seconds=5.0, now=Clock())
    with pytest.raises(RuntimeError):
        await cache.get((None, "2026-12"), reads)
    reads.fail = False
    assert await cache.get((None, "2026-12"), reads) == []
    assert reads.count == 2


async def test_a_ttl_of_zero_reads_every_time() -> None:
    reads = Reads()
    cache = RankingCache(ttl_seconds=0.0, now=Clock())
    await cache.get((None, "2026-12"), reads)
    await cache.get((None, "2026-12"), reads)
    assert reads.count == 2
