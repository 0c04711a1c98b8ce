"""Exactly once in effect per (event, recipient, channel): a job is settled once it was
delivered (or deliberately not sent), and only one worker may be sending it at a time.

The one gap left: a crash after the receiver accepted but before the settle is written.
Receivers close it with the delivery id we send (webhook Chuishao-Delivery-Id, SMS out_id).
"""

from redis.asyncio import Redis

from chuishao.notify import keys

KEEP_SECONDS = 90 * 86_400


class SendLedger:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def settled(self, job_id: str) -> bool:
        return bool(await self.redis.exists(keys.done(job_id)))

    async def settle(self, job_id: str, how: str) -> None:
        await self.redis.set(keys.done(job_id), how, ex=KEEP_SECONDS)

    async def claim(self, job_id: str, seconds: int) -> bool:
        """Only one attempt in flight per job (a redelivery may overtake a slow call)."""
        return bool(await self.redis.set(keys.in_flight(job_id), 1, nx=True, ex=seconds))

    async def release(self, job_id: str) -> None:
        await self.redis.delete(keys.in_flight(job_id))
