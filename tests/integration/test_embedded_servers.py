"""The servers `make run` uses: they start, keep their data, and leave nothing behind."""

from pathlib import Path

import psutil
from redis import Redis

from chuishao.embedded import NatsServer, RedisServer, free_port


def test_redis_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    port = free_port()
    with RedisServer(port, tmp_path) as server:
        client = Redis.from_url(server.url)
        client.set("ticket:T1", "kept")
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.close()
    with RedisServer(port, tmp_path) as server:
        client = Redis.from_url(server.url)
        assert client.get("ticket:T1") == b"kept"
        client.close()


def test_stopped_servers_leave_no_process(tmp_path: Path) -> None:
    nats = NatsServer(free_port(), tmp_path / "nats").start()
    redis = RedisServer(free_port(), tmp_path / "redis").start()
    pids = [nats.pid, redis.pid]
    nats.stop()
    redis.stop()
    assert not [pid for pid in pids if pid is not None and psutil.pid_exists(pid)]


def test_nats_config_turns_on_jetstream_with_always_sync(tmp_path: Path) -> None:
    config = NatsServer(4222, tmp_path).config_text()
    assert "sync_interval: always" in config
    assert str((tmp_path / "jetstream").resolve()) in config
