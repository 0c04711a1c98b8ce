"""Durable timers in a Redis sorted set: one member per (ticket, clock, level, unit),
scored by its deadline, so arming twice is harmless and due ones are a range query."""

from datetime import datetime

from redis.asyncio import Redis

from chuishao.common.domain import ClockKind, Level

TIMERS = "sla:timers"


def timer_id(ticket_id: str, clock: ClockKind, level: Level, unit_id: str | None) -> str:
    return f"{ticket_id}|{clock}|{level}|{unit_id or '-'}"


class TimerStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def arm(self, timer: str, deadline: datetime) -> bool:
        """True if newly armed; re-arming the same timer keeps the first deadline."""
        added = await self.redis.zadd(TIMERS, {timer: deadline.timestamp()}, nx=True)
        return bool(added)

    async def deadline(self, timer: str) -> float | None:
        score = await self.redis.zscore(TIMERS, timer)
        return float(score) if score is not None else None
