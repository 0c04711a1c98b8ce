"""Connections every service makes the same way."""

from redis.asyncio import Redis

from chuishao.common.settings import ServiceSettings


def redis_client(settings: ServiceSettings) -> Redis:
    return Redis.from_url(settings.redis_url, decode_responses=False, health_check_interval=30)
