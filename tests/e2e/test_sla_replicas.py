"""sla as real processes: two replicas share the timers; one is killed (SIGKILL) in the
middle of a burst of breaches and started again. Every ticket escalates exactly once."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.msg import Msg
from redis.asyncio import Redis

from chuishao.common.clock import SharedClock, advance_shared_clock
from chuishao.common.domain import Level
from chuishao.common.events import TicketEscalated, parse_event
from chuishao.common.publishing import publish_event
from chuishao.common.streams import provision
from support.factories import first_dispatch
from support.servers import Servers

pytestmark = pytest.mark.e2e
TICKETS = 1000  # a burst long enough to be killed in the middle of, on a loaded machine


class Replica:
    def __init__(self, name: str, servers: Servers, log_dir: Path) -> None:
        self.log = log_dir / f"{name}.log"
        self.env = {
            **os.environ,
            "CHUISHAO_NATS_URL": servers.nats_url,
            "CHUISHAO_REDIS_URL": servers.redis_url,
            "CHUISHAO_CLOCK": "shared",
            "CHUISHAO_LOG_FORMAT": "json",
            "CHUISHAO_SLA_TICK_SECONDS": "0.05",
            "CHUISHAO_SLA_CLAIM_BATCH": "25",
            "CHUISHAO_SLA_LEASE_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Replica":
        ready_before = self.text().count("sla_ready")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chuishao.sla"],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while self.text().count("sla_ready") == ready_before:
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, "sla did not start:\n" + self.text()
            time.sleep(0.05)
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture
def replicas(own_servers: Servers, tmp_path: Path) -> Iterator[tuple[Replica, Replica]]:
    pair = (Replica("sla-a", own_servers, tmp_path), Replica("sla-b", own_servers, tmp_path))
    yield pair
    for replica in pair:
        replica.stop()


async def test_two_replicas_and_a_killed_one_escalate_every_ticket_exactly_once(
    own_servers: Servers, replicas: tuple[Replica, Replica]
) -> None:
    first, second = replicas
    nc = await nats.connect(own_servers.nats_url)
    js = nc.jetstream()
    redis = Redis.from_url(own_servers.redis_url)
    clock = SharedClock(redis)
    await clock.start()
    await provision(js)
    escalations: list[TicketEscalated] = []

    async def keep(msg: Msg) -> None:
        event = parse_event(msg.data)
        if isinstance(event, TicketEscalated):
            escalations.append(event)

    await js.subscribe("ticket.escalated.*", ordered_consumer=True, cb=keep)
    first.start()
    second.start()
    for n in range(TICKETS):
        await publish_event(js, first_dispatch(clock, f"T-rep-{n:04}"))
    for _ in range(600):
        if await redis.zcard("sla:timers") == TICKETS:
            break
        await asyncio.sleep(0.05)
    assert await redis.zcard("sla:timers") == TICKETS

    async def escalated_so_far() -> int:
        # Counted by the server, not by this test's subscription: a loaded machine
        # delivers late, and the burst would look unstarted when it was over.
        info = await js.stream_info("TICKETS", subjects_filter="ticket.escalated.*")
        return len(info.state.subjects or {})

    await advance_shared_clock(redis, 48 * 3600 + 60)
    for _ in range(6000):  # kill one replica in the middle of the burst (≤ 30 s under load)
        if await escalated_so_far():
            break
        await asyncio.sleep(0.005)
    first.stop(signal.SIGKILL)
    at_kill = await escalated_so_far()
    first.start()  # a restart mid-way

    for _ in range(600):
        if len(escalations) >= TICKETS:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # room for a wrong second escalation to arrive
    # Every committed event is confirmed: what the killed replica left unconfirmed, a
    # relay sent (chuishao.common.outbox; grace 6 s, every 2 s).
    for _ in range(400):
        if await redis.zcard("sla:outbox") == 0:
            break
        await asyncio.sleep(0.05)
    unconfirmed = await redis.zcard("sla:outbox")
    await clock.stop()
    await redis.aclose()
    await nc.close()

    assert unconfirmed == 0
    escalated = sorted(e.ticket_id for e in escalations)
    assert escalated == [f"T-rep-{n:04}" for n in range(TICKETS)]
    assert {(e.from_level, e.to_level) for e in escalations} == {(Level.COMMUNITY, Level.STREET)}
    assert 0 < at_kill < TICKETS  # the kill did land in the middle of the burst
    # No escalation was ever committed twice (a kill between commit and log drops a line).
    assert (first.text() + second.text()).count('"sla_escalated"') <= TICKETS
