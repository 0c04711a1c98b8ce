"""The fault suite: a load of reports while, in turn, each service is SIGKILLed and
restarted, nats-server is restarted and redis-server is restarted. Afterwards a checker
that reads the streams and Redis directly — not the services' own word — confirms that
nothing acknowledged was lost and nothing happened twice.

CI runs a small load every time; `make chaos` runs a bigger one, several rounds."""

import asyncio
import os
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from redis.asyncio import Redis

from chuishao.common.clock import advance_shared_clock
from chuishao.common.events import TicketDispatched, TicketEscalated, parse_event
from chuishao.common.streams import CONSUMERS
from chuishao.embedded import NatsServer, RedisServer, free_port
from support.stack import SERVICES, ServiceProcesses

pytestmark = pytest.mark.faults
# Every durable consumer must catch up, supervision's included: a service restarted
# while a server was restarting used to fail its start-up and exit, which left its
# backlog growing (seen as supervision "stalled" with every event pending).
TICKETS = int(os.environ.get("CHUISHAO_CHAOS_TICKETS", "60"))
REPORT = {
    "category": "fire_box",
    "description": "消防箱玻璃碎了",
    "channel": "snap_it",
    "location": {"grid_code": "HY-01", "address": "和园小区"},
}


@dataclass
class Stack:
    nats: NatsServer
    redis: RedisServer
    services: ServiceProcesses
    faults: list[str] = field(default_factory=list)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    nats_server = NatsServer(free_port(), tmp_path / "nats").start()
    redis_server = RedisServer(free_port(), tmp_path / "redis").start()
    services = ServiceProcesses(
        nats_server.url,
        redis_server.url,
        tmp_path / "logs",
        CHUISHAO_CLOCK="shared",
        CHUISHAO_LOG_LEVEL="WARNING",
        # A delivery that failed while a server was down retries within seconds, not the
        # production back-off of minutes: this suite is about what is lost, not when.
        CHUISHAO_RETRY_BASE_SECONDS="0.2",
        CHUISHAO_RETRY_CAP_SECONDS="2",
        CHUISHAO_RECORD_CHECK_SECONDS="1",
        CHUISHAO_SLA_STATE_CHECK_SECONDS="1",
    )
    try:
        services.start()
        yield Stack(nats_server, redis_server, services)
    finally:
        services.stop()
        redis_server.stop()
        nats_server.stop()


async def submit_all(base_url: str, count: int, batch: str = "r") -> set[str]:
    """Each report retried with its Idempotency-Key until a 2xx: the ids acknowledged."""
    acknowledged: set[str] = set()
    window = asyncio.Semaphore(8)

    async def one(client: httpx.AsyncClient, index: int) -> None:
        async with window:
            for _ in range(600):
                try:
                    response = await client.post(
                        "/api/v1/reports",
                        json=REPORT,
                        headers={"Idempotency-Key": f"{batch}{index}"},
                    )
                    if response.status_code in (200, 201):
                        acknowledged.add(response.json()["ticket_id"])
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)

    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        await asyncio.gather(*(one(client, n) for n in range(count)))
    return acknowledged


async def inject_faults(stack: Stack, pause: float) -> None:
    """SIGKILL and restart each service, then restart nats-server, then redis-server."""
    loop = asyncio.get_running_loop()
    for name in SERVICES:
        await asyncio.sleep(pause)
        os.kill(stack.services.pid(name), signal.SIGKILL)
        stack.services.processes.pop(name).wait()
        await asyncio.sleep(pause / 2)
        stack.services.start_one(name)
        stack.faults.append(f"SIGKILL {name}")
    await asyncio.sleep(pause)
    await loop.run_in_executor(None, stack.nats.stop)
    await asyncio.sleep(pause / 2)
    await loop.run_in_executor(None, stack.nats.start)
    stack.faults.append("restart nats-server")
    await asyncio.sleep(pause)
    await loop.run_in_executor(None, stack.redis.stop)
    await asyncio.sleep(pause / 2)
    await loop.run_in_executor(None, stack.redis.start)
    stack.faults.append("restart redis-server")


async def quiet(js: JetStreamContext, redis: Redis, timeout: float = 150.0) -> None:
    """Until every durable consumer has caught up and the outboxes are empty."""
    deadline = time.monotonic() + timeout
    waiting: dict[str, int] = {}
    while time.monotonic() < deadline:
        busy = 0
        waiting = {}
        for name, spec in CONSUMERS.items():
            try:
                info = await js.consumer_info(spec.stream, name)
            except Exception:  # noqa: BLE001, S112 - not declared yet: not busy
                continue
            busy += info.num_pending + info.num_ack_pending
            if info.num_pending + info.num_ack_pending:
                waiting[name] = info.num_pending + info.num_ack_pending
        busy += await redis.zcard("outbox") + await redis.zcard("router:outbox")
        # A job nacked with a delay is neither pending nor awaiting an ack; the work-queue
        # stream still holds it until it is done.
        jobs = (await js.stream_info("NOTIFY_JOBS")).state.messages
        if jobs:
            waiting["NOTIFY_JOBS"] = jobs
        busy += jobs
        if busy == 0:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the system never caught up: {waiting}")


async def stream_events(js: JetStreamContext, stream: str, subject: str) -> list[tuple[str, bytes]]:
    sub = await js.subscribe(
        subject, stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
    )
    found: list[tuple[str, bytes]] = []
    pending = (await js.stream_info(stream)).state.messages
    while True:
        try:
            msg = await sub.next_msg(timeout=1)
        except nats.errors.TimeoutError:
            break
        found.append((msg.subject, msg.data))
        if len(found) >= pending:
            break
    await sub.unsubscribe()
    return found


@pytest.mark.timeout(600)
async def test_nothing_acknowledged_is_lost_or_doubled_under_faults(stack: Stack) -> None:
    started = time.monotonic()
    load = asyncio.create_task(submit_all(stack.services.base_url, TICKETS))
    await inject_faults(stack, pause=float(os.environ.get("CHUISHAO_CHAOS_PAUSE", "1.0")))
    acknowledged = await load
    print(f"\nload done in {time.monotonic() - started:.1f}s")
    stack.services.wait_ready(60)
    await check_nothing_lost(stack, acknowledged, TICKETS, started)
    print("batches since the last restart:", await batch_sizes(stack))


async def batch_sizes(stack: Stack) -> dict[str, str]:
    """The batch consumers' batches (chuishao_consumer_batch_size) as their /metrics say:
    how many, and the mean size. With `make chaos`'s load, a restarted consumer finds a
    backlog and takes it in batches of more than one."""
    found: dict[str, str] = {}
    services = stack.services
    urls = {
        "intake": f"{services.base_url}/metrics",
        "supervision": f"{services.supervision_url}/metrics",
        "notify": services.metrics_url("notify"),
    }
    async with httpx.AsyncClient(timeout=10) as client:
        for service, url in urls.items():
            text = (await client.get(url)).text
            values = {
                line.split("{")[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith(
                    ("chuishao_consumer_batch_size_count", "chuishao_consumer_batch_size_sum")
                )
            }
            count = values.get("chuishao_consumer_batch_size_count", 0.0)
            total = values.get("chuishao_consumer_batch_size_sum", 0.0)
            found[service] = f"{count:.0f} batches, {total / max(count, 1):.1f} messages a batch"
    return found


def snapshot_redis(stack: Stack) -> Path:
    """Stop redis-server (it writes its append-only file out), copy its data, start it."""
    stack.redis.stop()
    copy = stack.redis.data_dir.with_name("redis-snapshot")
    shutil.copytree(stack.redis.data_dir, copy)
    stack.redis.start()
    return copy


def roll_redis_back(stack: Stack, copy: Path) -> None:
    """Restart redis-server from the copy: every write since is forgotten, as when
    `appendfsync everysec` loses its last second or an older snapshot is restored."""
    stack.redis.stop()
    shutil.rmtree(stack.redis.data_dir)
    shutil.copytree(copy, stack.redis.data_dir)
    stack.redis.start()


@pytest.mark.timeout(600)
async def test_a_redis_rollback_loses_no_acknowledged_ticket_and_reuses_no_id(
    stack: Stack,
) -> None:
    """A third of the reports before a copy of Redis's data, a third after it (routed,
    clocks armed, units told), Redis restarted from the copy, the last third during the
    recovery: every acknowledged ticket is there afterwards, under its own id."""
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    base_url, third = stack.services.base_url, TICKETS // 3
    acknowledged = await submit_all(base_url, third, "before")
    copy = await loop.run_in_executor(None, snapshot_redis, stack)
    acknowledged |= await submit_all(base_url, third, "forgotten")
    connection = await nats.connect(stack.nats.url)
    redis = Redis.from_url(stack.redis.url)
    await quiet(connection.jetstream(), redis)  # dispatched, clocks armed: then forgotten
    await redis.aclose()
    await connection.close()
    await loop.run_in_executor(None, roll_redis_back, stack, copy)
    stack.faults.append("redis-server rolled back to an earlier copy")
    acknowledged |= await submit_all(base_url, TICKETS - 2 * third, "after")
    await check_nothing_lost(stack, acknowledged, TICKETS, started)


async def check_nothing_lost(
    stack: Stack,
    acknowledged: set[str],
    expected: int,
    started: float,
) -> None:
    """Reads the streams and Redis directly, then moves the clock 49 h: every
    acknowledged ticket stored, routed, told, armed and escalated exactly once."""
    connection = await nats.connect(stack.nats.url)
    js = connection.jetstream()
    redis = Redis.from_url(stack.redis.url)
    await quiet(js, redis)
    print(f"caught up after {time.monotonic() - started:.1f}s")

    submissions = Counter(
        s.rsplit(".", 1)[1] for s, _ in await stream_events(js, "TICKETS", "ticket.submitted.*")
    )
    submitted = set(submissions)
    lost = acknowledged - submitted
    # A record Redis forgot comes back at intake's next records check (every second here).
    deadline = time.monotonic() + 60
    while True:
        records = {t for t in acknowledged if await redis.exists(f"ticket:{t}")}
        if records == acknowledged or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    dispatches = Counter(
        (event.ticket_id, event.unit_id)
        for _, data in await stream_events(js, "TICKETS", "ticket.dispatched.*")
        if isinstance(event := parse_event(data), TicketDispatched)
    )
    deliveries = Counter(
        (subject.split(".")[1], subject.rsplit(".", 1)[1])
        for subject, _ in await stream_events(js, "UNITS", "dept.*.dispatched.*")
    )
    armed = {
        s.rsplit(".", 1)[1] for s, _ in await stream_events(js, "TICKETS", "ticket.clock_armed.*")
    }

    # 48 hours pass: every resolution clock breaches and escalates exactly once.
    await advance_shared_clock(redis, 49 * 3600)
    await asyncio.sleep(3)
    await quiet(js, redis)
    escalations = Counter(
        (event.ticket_id, event.clock, event.from_level)
        for _, data in await stream_events(js, "TICKETS", "ticket.escalated.*")
        if isinstance(event := parse_event(data), TicketEscalated)
    )
    await connection.close()
    await redis.aclose()

    print(f"\n{expected} reports, {len(acknowledged)} acknowledged, faults: {stack.faults}")
    assert len(acknowledged) == expected, "a ticket id was given to two reports"
    assert lost == set(), f"acknowledged but not in the stream: {sorted(lost)}"
    assert set(submissions.values()) == {1}, "two TicketSubmitted for one id"
    assert records == acknowledged, "acknowledged but no ticket record"
    assert {t for t, _ in dispatches} == acknowledged, "not dispatched"
    assert set(dispatches.values()) == {1}, "a unit was summoned twice"
    assert set(deliveries) == {(u, t) for t, u in dispatches}, "a dispatch never reached its unit"
    assert set(deliveries.values()) == {1}, "a unit was notified twice"
    assert armed == acknowledged, "a clock was never armed"
    assert set(escalations.values()) == {1}, "an escalation fired twice"
    resolution = {
        t for t, clock, level in escalations if clock == "resolution" and level == "community"
    }
    assert resolution == acknowledged, "a breached resolution clock was never escalated"
