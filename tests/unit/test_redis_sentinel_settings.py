"""The services reach Redis through Sentinel when sentinels are configured (the failover
itself is tests/faults/test_sentinel.py, in `make chaos`)."""

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.sentinel import SentinelConnectionPool

from chuishao.common.clients import redis_client
from chuishao.common.settings import ServiceSettings


def test_sentinels_are_parsed_from_one_setting() -> None:
    settings = ServiceSettings(redis_sentinels=" s1:26380, s2 ,10.0.0.3:26379,")
    assert settings.redis_sentinel_nodes == [("s1", 26380), ("s2", 26379), ("10.0.0.3", 26379)]
    assert ServiceSettings().redis_sentinel_nodes == []


async def test_with_sentinels_the_client_asks_them_for_the_primary() -> None:
    settings = ServiceSettings(
        redis_sentinels="127.0.0.1:26379",
        redis_sentinel_master="chuishao",
        redis_url="redis://:secret@unused/3",
    )
    client = redis_client(settings)
    pool = client.connection_pool
    # Sentinel's pool, still waiting for a free connection rather than failing.
    assert isinstance(pool, SentinelConnectionPool)
    assert isinstance(pool, BlockingConnectionPool)
    assert pool.service_name == "chuishao"
    assert pool.connection_kwargs["db"] == 3
    assert pool.connection_kwargs["password"] == "secret"
    await client.aclose()


async def test_without_sentinels_the_url_is_used() -> None:
    client = redis_client(ServiceSettings(redis_url="redis://127.0.0.1:6390/2"))
    assert not isinstance(client.connection_pool, SentinelConnectionPool)
    assert client.connection_pool.connection_kwargs["port"] == 6390
    await client.aclose()
