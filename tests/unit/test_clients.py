"""The services' Redis clients pack commands with hiredis (chuishao.common.clients): the
bytes on the wire must be those redis-py's own packer writes, for every kind of argument
the services send, and a bad argument must be refused the same way."""

from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from chuishao.common.clients import packing_in_c

ARGUMENTS: list[tuple[Any, ...]] = [
    ("SET", "ticket:T1", b"\x01x\x9c\x00packed"),
    ("ZADD", "idx:overdue", 1764763200.123456, "T20261203000001"),
    ("ZADD", "k", 0.1 + 0.2, "m", 1e-7, "n", float("inf"), "o", -0.0, "p"),
    ("HINCRBY", "sup:counts:unit:U1:2026-12", "created", -1),
    ("SET", "k", 10**30),
    ("SET", "街道", "朝阳区 三里屯 🚧"),
    ("CONFIG GET", "maxmemory"),  # a command of two words, split as redis-py splits it
    ("SET", "k", bytearray(b"ba"), "GET"),
    ("SET", "k", memoryview(b"mv")),
    ("EVALSHA", "a" * 40, 3, *(f"k{i}" for i in range(3)), *range(6)),
]


def _client(url: str) -> Redis:
    return packing_in_c(Redis.from_pool(BlockingConnectionPool.from_url(url)))


@pytest.mark.parametrize("arguments", ARGUMENTS)
def test_the_packer_writes_redis_pys_bytes(arguments: tuple[Any, ...]) -> None:
    fast = _client("redis://127.0.0.1:1").connection_pool.connection_class()
    assert type(fast).__name__ == "Connection"
    assert type(fast) is not Connection
    assert b"".join(fast.pack_command(*arguments)) == b"".join(
        Connection().pack_command(*arguments)
    )


@pytest.mark.parametrize("bad", [None, True, [1], {"a": 1}])
def test_a_bad_argument_is_refused_as_redis_py_refuses_it(bad: Any) -> None:
    fast = _client("redis://127.0.0.1:1").connection_pool.connection_class()
    with pytest.raises(DataError):
        fast.pack_command("SET", "k", bad)
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", bad)


def test_a_unix_socket_url_keeps_its_connection_kind() -> None:
    pool = _client("unix:///tmp/redis.sock").connection_pool
    assert issubclass(pool.connection_class, UnixDomainSocketConnection)
    again = packing_in_c(Redis.from_pool(pool)).connection_pool.connection_class
    assert again is pool.connection_class  # wrapped once, not twice
