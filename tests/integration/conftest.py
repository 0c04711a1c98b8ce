import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.clock import ManualClock
from chuishao.router.bootstrap import bootstrap as router_bootstrap
from chuishao.router.service import RouterService
from chuishao.router.settings import RouterSettings
from chuishao.sla.policies import PolicyBook
from chuishao.sla.settings import SlaSettings
from chuishao.sla.supervisor import Supervisor
from support.batch_compare import NOW
from support.intake import Harness, running_intake
from support.servers import RollbackRedis, Servers
from support.supervision import SupervisionHarness, supervision_on


@pytest.fixture
async def intake(servers: Servers, js: JetStreamContext, clean: None) -> AsyncIterator[Harness]:
    async with running_intake(servers.nats_url, servers.redis_url, js) as harness:
        yield harness


@pytest.fixture
async def supervision(servers: Servers, js: JetStreamContext) -> AsyncIterator[SupervisionHarness]:
    """The supervision service on the shared servers, logging warnings only (a module that
    needs other settings has a fixture of this name of its own)."""
    async with supervision_on(servers, js, log_level="WARNING") as harness:
        yield harness


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RollbackRedis]:
    """A redis-server of the test's own, to roll back (support.servers.RollbackRedis)."""
    redis = RollbackRedis(tmp_path / "redis")
    redis.server.start()
    try:
        yield redis
    finally:
        redis.server.stop()


@pytest.fixture
async def router(servers: Servers, tmp_path: Path) -> AsyncIterator[RouterService]:
    """A router whose consumer is not started (the batch tests hand it the events), on a
    copy of the shipped directory, its clock at `support.batch_compare.NOW`."""
    path = tmp_path / "directory.toml"
    shutil.copy(RouterSettings().directory_file, path)
    settings = RouterSettings(
        nats_url=servers.nats_url, redis_url=servers.redis_url, directory_file=path
    )
    service = router_bootstrap(settings, clock=ManualClock(NOW))
    await service.broker.connect()
    yield service
    await service.broker.stop()
    await service.runtime.redis.aclose()


@pytest.fixture
async def supervisor(servers: Servers, redis: Redis) -> AsyncIterator[Supervisor]:
    """sla's decisions without its loops (the batch tests hand it the events)."""
    connection = await nats.connect(servers.nats_url)
    settings = SlaSettings(nats_url=servers.nats_url, redis_url=servers.redis_url)
    yield Supervisor(
        redis=redis,
        nats=connection,
        book=PolicyBook.load(settings.sla_policies_file),
        clock=ManualClock(NOW),
        settings=settings,
    )
    await connection.drain()
