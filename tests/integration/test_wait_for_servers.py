"""A service started while Redis or NATS is restarting waits for them instead of exiting."""

import asyncio
from pathlib import Path

from chuishao.common.clients import wait_for_servers
from chuishao.common.settings import ServiceSettings
from chuishao.embedded import NatsServer, RedisServer, free_port


async def test_start_up_waits_for_both_servers(tmp_path: Path) -> None:
    nats_server = NatsServer(free_port(), tmp_path / "nats", sync_interval="2m")
    redis_server = RedisServer(free_port(), tmp_path / "redis")
    settings = ServiceSettings(nats_url=nats_server.url, redis_url=redis_server.url)
    waiting = asyncio.create_task(wait_for_servers(settings))
    try:
        await asyncio.sleep(1.0)
        assert not waiting.done()  # neither is up
        redis_server.start()
        await asyncio.sleep(1.0)
        assert not waiting.done()  # NATS still missing
        nats_server.start()
        await asyncio.wait_for(waiting, 15)
    finally:
        waiting.cancel()
        nats_server.stop()
        redis_server.stop()
