"""Messages held back (quiet hours, rate limit) until a moment, durably, in Redis: a sorted
set scored by the release time (epoch ms) and the jobs beside it. A sweep claims what is
due with a lease, re-publishes it as a job, then removes it; a crash in between lets the
lease run out and the next sweep publish it again (the job id makes that harmless)."""

from datetime import datetime

from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.domain import Priority
from chuishao.common.publishing import CORRELATION_HEADER, TICKET_HEADER
from chuishao.notify import keys
from chuishao.notify.jobs import DeliveryJob

HELD, JOBS = keys.HELD, keys.HELD_JOBS

_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
for i = 1, #due, 2 do redis.call('ZADD', KEYS[1], ARGV[2], due[i]) end
return due
"""
# Remove only if still under our lease: a job re-held meanwhile has a new score and stays.
_DONE = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class HeldJobs:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._done = redis.register_script(_DONE)

    async def hold(self, job: DeliveryJob, until: datetime) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(JOBS, job.job_id, job.model_dump_json())
            pipe.zadd(HELD, {job.job_id: _ms(until)})
            await pipe.execute()

    async def expedite(self, ticket_id: str, now: datetime) -> int:
        """The ticket turned out to be an emergency after its messages were held (triage
        placed a gas leak in emergency_hazard): they go at the next sweep, as emergencies,
        so quiet hours no longer hold them. Rare (emergency dispatches), so a scan."""
        held: dict[bytes | str, bytes | str] = await self.redis.hgetall(JOBS)
        moved = 0
        for key, raw in held.items():
            job_id = key.decode() if isinstance(key, bytes) else key
            job = DeliveryJob.model_validate_json(raw)
            if job.event.ticket_id != ticket_id or job.priority == Priority.EMERGENCY:
                continue
            urgent = job.model_copy(update={"priority": Priority.EMERGENCY})
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(JOBS, job_id, urgent.model_dump_json())
                pipe.zadd(HELD, {job_id: _ms(now)}, xx=True)
                await pipe.execute()
            moved += 1
        return moved

    async def release_at(self, job_id: str) -> float | None:
        score = await self.redis.zscore(HELD, job_id)
        return None if score is None else score / 1000

    async def release_due(
        self, js: JetStreamContext, now: datetime, lease_seconds: float = 60.0, limit: int = 500
    ) -> int:
        lease = str(_ms(now) + int(lease_seconds * 1000))
        due: list[bytes] = await self._claim(keys=[HELD], args=[_ms(now), lease, limit])
        released = 0
        for job_id, score in zip(due[::2], due[1::2], strict=True):
            raw = await self.redis.hget(JOBS, job_id)
            if isinstance(raw, str):
                raw = raw.encode()
            if raw is not None:
                job = DeliveryJob.model_validate_json(raw)
                await js.publish(
                    job.subject,
                    raw,
                    headers={
                        "Nats-Msg-Id": f"{job.job_id}:release:{int(float(score))}",
                        TICKET_HEADER: job.event.ticket_id,
                        CORRELATION_HEADER: job.event.correlation_id,
                    },
                    timeout=5,
                )
                released += 1
            await self._done(keys=[HELD, JOBS], args=[job_id, lease])
        return released
