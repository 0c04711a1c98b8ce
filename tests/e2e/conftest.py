from collections.abc import Iterator
from pathlib import Path

import pytest

from support.servers import Servers, real_servers
from support.stack import ServiceProcesses


@pytest.fixture(scope="module")
def own_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Fresh servers per module, so end-to-end runs start from empty streams."""
    with real_servers(tmp_path_factory.mktemp("e2e-servers")) as running:
        yield running


@pytest.fixture(scope="module")
def stack(
    own_servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcesses]:
    log_dir: Path = tmp_path_factory.mktemp("service-logs")
    with ServiceProcesses(own_servers.nats_url, own_servers.redis_url, log_dir) as services:
        yield services
