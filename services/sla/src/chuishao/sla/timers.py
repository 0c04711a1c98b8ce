"""Durable timers in a Redis sorted set, one member per ticket scored by when its clocks
next need a look (a warning point or a deadline).

A timer is taken with an atomic claim (one Lua script): due members move from
`sla:timers` to `sla:claims` with a lease, so of several replicas exactly one gets each
ticket. The claimant puts the ticket's next timer back in the same transaction that
records what it did. If it dies or cannot publish, the lease runs out and the next claim
takes the ticket again: a timer is never lost, only retried.
"""

from datetime import datetime

from redis.asyncio import Redis

from chuishao.sla import keys

# Expired leases first (their work is overdue), then due timers, up to ARGV[4] in all.
_CLAIM = """
local limit = tonumber(ARGV[4])
local taken = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, limit)
local left = limit - #taken
if left > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, left)
  if #due > 0 then
    redis.call('ZREM', KEYS[1], unpack(due))
    for _, member in ipairs(due) do table.insert(taken, member) end
  end
end
for _, member in ipairs(taken) do redis.call('ZADD', KEYS[2], ARGV[3], member) end
return taken
"""


class TimerStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(_CLAIM)

    async def claim(
        self, due_by: datetime, *, real_now: float, lease_seconds: float, limit: int
    ) -> list[str]:
        taken = await self._claim(
            keys=[keys.TIMERS, keys.CLAIMS],
            args=[due_by.timestamp(), real_now, real_now + lease_seconds, limit],
        )
        return [member.decode() if isinstance(member, bytes) else member for member in taken]

    async def release(self, ticket_ids: list[str], retry_at: datetime) -> None:
        """Give claims back to be tried again at `retry_at` (or earlier if already due)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(keys.TIMERS, dict.fromkeys(ticket_ids, retry_at.timestamp()), lt=True)
            pipe.zrem(keys.CLAIMS, *ticket_ids)
            await pipe.execute()

    async def due_at(self, ticket_id: str) -> float | None:
        score = await self.redis.zscore(keys.TIMERS, ticket_id)
        return float(score) if score is not None else None

    async def claimed(self, ticket_id: str) -> bool:
        return await self.redis.zscore(keys.CLAIMS, ticket_id) is not None
