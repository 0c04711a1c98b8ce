from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from support.intake import Harness, running_intake
from support.servers import Servers


@pytest.fixture
async def intake(servers: Servers, js: JetStreamContext, clean: None) -> AsyncIterator[Harness]:
    async with running_intake(servers.nats_url, servers.redis_url, js) as harness:
        yield harness
