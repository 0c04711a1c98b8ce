import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from redis.asyncio import Redis

from support.servers import Servers, real_servers

# The services refuse the known default secrets; tests sign with known ones on purpose
# (in-process settings and the service processes, which inherit the environment).
os.environ["CHUISHAO_ALLOW_TEST_SECRETS"] = "1"


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with real_servers(tmp_path_factory.mktemp("servers")) as running:
        yield running


@pytest.fixture
async def nc(servers: Servers) -> AsyncIterator[Client]:
    connection = await nats.connect(servers.nats_url)
    yield connection
    await connection.drain()


@pytest.fixture
async def js(nc: Client) -> JetStreamContext:
    return nc.jetstream()


@pytest.fixture
async def redis(servers: Servers) -> AsyncIterator[Redis]:
    client = Redis.from_url(servers.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def clean(js: JetStreamContext, redis: Redis) -> None:
    """A test that needs empty streams and an empty Redis asks for this."""
    for name in await js.streams_info():
        await js.delete_stream(name.config.name or "")
    await redis.flushall()
    await asyncio.sleep(0)
