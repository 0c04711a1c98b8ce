"""The live ledger in Redis: a ticket event applied in one WATCH/MULTI transaction with
the memory that it was applied; an exchange checked and debited by one Lua script."""

import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import WatchError

from chuishao.common.events import Event, PointsExchanged
from chuishao.points import keys
from chuishao.points.ledger import (
    Change,
    Entry,
    Ledger,
    ReportPoints,
    decide,
    due_days,
    exchange_entry,
    report_of,
    with_facts,
)
from chuishao.points.policy import PointsPolicy

# KEYS: balance hash, history list, exchange hash, pending zset.
# ARGV: points, event JSON (balance_after filled in by the caller later), line JSON,
#       exchange id, now (score of pending).
# Returns {"ok", new balance} | {"short", balance} | {"seen", stored event JSON}.
EXCHANGE = """
local seen = redis.call('HGET', KEYS[3], 'event')
if seen then return {'seen', seen} end
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
local points = tonumber(ARGV[1])
if balance < points then return {'short', tostring(balance)} end
local after = redis.call('HINCRBY', KEYS[1], 'balance', -points)
local event = string.gsub(ARGV[2], '"balance_after":%-?%d+', '"balance_after":' .. after, 1)
redis.call('HSET', KEYS[3], 'event', event)
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[4])
return {'ok', tostring(after)}
"""


@dataclass(frozen=True)
class Debit:
    outcome: str  # ok | short | seen
    balance: int | None = None
    event: PointsExchanged | None = None


class PointsStore:
    def __init__(self, redis: Redis, policy: PointsPolicy) -> None:
        self.redis = redis
        self.policy = policy
        self._exchange = redis.register_script(EXCHANGE)

    async def apply(self, event: Event) -> Change | None:
        """Apply one ticket event; a redelivered one changes nothing."""
        ticket_id = report_of(event)
        report_key = keys.report(ticket_id)
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(report_key)
                    raw = await pipe.get(report_key)
                    before = (
                        ReportPoints.model_validate_json(raw)
                        if raw
                        else ReportPoints(ticket_id=ticket_id)
                    )
                    if event.event_id in before.applied:
                        return None
                    facts = with_facts(before, event, self.policy)
                    earned: dict[str, int] = {}
                    if facts.reporter_ref is not None:
                        balance_key = keys.balance(facts.reporter_ref)
                        await pipe.watch(report_key, balance_key)
                        for day in sorted(due_days(facts, self.policy)):
                            earned[day] = int(await pipe.hget(balance_key, f"day:{day}") or 0)
                    change = decide(before, event, self.policy, earned)
                    if change is None:
                        return None
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(report_key, change.report.model_dump_json())
                    if change.reporter_ref is not None and change.entries:
                        self._record(pipe, change.reporter_ref, change)
                    await pipe.execute()
                    return change
                except WatchError:
                    continue

    def _record(self, pipe: "Redis", reporter_ref: str, change: Change) -> None:
        balance_key = keys.balance(reporter_ref)
        total = sum(entry.points for entry in change.entries)
        if total:
            pipe.hincrby(balance_key, "balance", total)
        for day, points in change.earned_by_day().items():
            pipe.hincrby(balance_key, f"day:{day}", points)
        pipe.rpush(keys.history(reporter_ref), *(e.model_dump_json() for e in change.entries))

    async def debit(self, event: PointsExchanged) -> Debit:
        """Take the points if the balance holds them; once per exchange id."""
        line = exchange_entry(event, self.policy)
        outcome, value = await self._exchange(
            keys=[
                keys.balance(event.reporter_ref),
                keys.history(event.reporter_ref),
                keys.exchange(event.event_id),
                keys.PENDING,
            ],
            args=[
                event.points,
                event.model_dump_json(),
                line.model_dump_json(),
                event.event_id,
                time.time(),
            ],
        )
        outcome = outcome.decode() if isinstance(outcome, bytes) else str(outcome)
        if outcome == "seen":
            return Debit("seen", event=PointsExchanged.model_validate_json(value))
        balance = int(value)
        if outcome == "short":
            return Debit("short", balance=balance)
        stored = event.model_copy(update={"balance_after": balance})
        return Debit("ok", balance=balance, event=stored)

    async def confirmed(self, exchange_id: str) -> None:
        await self.redis.zrem(keys.PENDING, exchange_id)

    async def pending(self, older_than: float) -> list[PointsExchanged]:
        ids = await self.redis.zrangebyscore(keys.PENDING, 0, time.time() - older_than)
        found = []
        for exchange_id in ids:
            name = exchange_id.decode() if isinstance(exchange_id, bytes) else str(exchange_id)
            raw = await self.redis.hget(keys.exchange(name), "event")
            if raw:
                found.append(PointsExchanged.model_validate_json(raw))
        return found

    async def balance(self, reporter_ref: str) -> int:
        return int(await self.redis.hget(keys.balance(reporter_ref), "balance") or 0)

    async def earned_on(self, reporter_ref: str, day: str) -> int:
        return int(await self.redis.hget(keys.balance(reporter_ref), f"day:{day}") or 0)

    async def history(self, reporter_ref: str, limit: int | None = None) -> list[Entry]:
        """The reporter's lines, newest first (`limit`: at most that many)."""
        start = 0 if limit is None else -limit
        raw = await self.redis.lrange(keys.history(reporter_ref), start, -1)
        return [Entry.model_validate_json(line) for line in reversed(raw)]

    async def reporters(self) -> list[str]:
        refs = []
        async for key in self.redis.scan_iter(match=keys.balance("*"), count=500):
            name = key.decode() if isinstance(key, bytes) else key
            refs.append(name.removeprefix(keys.balance("")))
        return sorted(refs)

    async def restore(self, ledger: Ledger, exchanges: list[PointsExchanged]) -> None:
        """Replace the whole live ledger with `ledger` (rebuilt from the streams), the
        memory of applied events included. Only with the service stopped and no exchange
        pending (the rebuild checks), so nothing is lost between the read and the write."""
        stale = [key async for key in self.redis.scan_iter(match="points:*", count=1000)]
        async with self.redis.pipeline(transaction=True) as pipe:
            for start in range(0, len(stale), 1000):
                pipe.delete(*stale[start : start + 1000])
            for report in ledger.reports.values():
                pipe.set(keys.report(report.ticket_id), report.model_dump_json())
            for ref, balance in ledger.balances.items():
                pipe.hset(keys.balance(ref), "balance", balance)
            for (ref, day), earned in ledger.earned.items():
                pipe.hset(keys.balance(ref), f"day:{day}", earned)
            for ref, lines in ledger.history.items():
                if lines:
                    pipe.rpush(keys.history(ref), *(line.model_dump_json() for line in lines))
            for event in exchanges:
                pipe.hset(keys.exchange(event.event_id), "event", event.model_dump_json())
            await pipe.execute()
