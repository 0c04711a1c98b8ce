"""Connections every service makes the same way."""

from redis.asyncio import BlockingConnectionPool, Redis

from chuishao.common.settings import ServiceSettings


def redis_client(settings: ServiceSettings) -> Redis:
    # Blocking: redis-py's default pool raises "Too many connections" once 100 are in
    # use, which failed requests under load that a short wait would have served.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)
