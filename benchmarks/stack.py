"""The servers and services a benchmark runs on, started for a `with` block in a folder
of its own and stopped after it, whatever happened."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

from chuishao.embedded import NatsServer, RedisServer, free_port
from chuishao.embedded.services import SERVICES, ServiceProcesses


@contextlib.contextmanager
def servers(root: Path, sync: str = "always") -> Iterator[tuple[NatsServer, RedisServer]]:
    """nats-server (fsync `sync`: always as shipped, or e.g. 2m) and redis-server."""
    with (
        NatsServer(free_port(), root / "nats", sync_interval=sync) as nats_server,
        RedisServer(free_port(), root / "redis") as redis_server,
    ):
        yield nats_server, redis_server


@contextlib.contextmanager
def pipeline(
    root: Path, logs: Path | None, sync: str = "always", **env: str
) -> Iterator[tuple[NatsServer, RedisServer, ServiceProcesses]]:
    """The servers and the pipeline's services, logging warnings only (to `logs`, else
    a folder under `root`); `env`: the services' settings for the run."""
    with (
        servers(root, sync) as (nats_server, redis_server),
        ServiceProcesses(
            nats_server.url,
            redis_server.url,
            logs or root / "logs",
            SERVICES,
            CHUISHAO_LOG_LEVEL="WARNING",
            **env,
        ) as services,
    ):
        yield nats_server, redis_server, services
