"""Which messages a consumer has already handled, so a redelivery past JetStream's
de-duplication window does not repeat an effect."""

from redis.asyncio import Redis

KEEP_SECONDS = 30 * 86_400


def _key(consumer: str, event_id: str) -> str:
    return f"handled:{consumer}:{event_id}"


async def was_handled(redis: Redis, consumer: str, event_id: str) -> bool:
    return bool(await redis.exists(_key(consumer, event_id)))


async def mark_handled(redis: Redis, consumer: str, event_id: str) -> None:
    await redis.set(_key(consumer, event_id), 1, ex=KEEP_SECONDS)
