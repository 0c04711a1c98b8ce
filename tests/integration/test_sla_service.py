"""The sla service on real nats-server and redis-server, with the stack's shared clock
moved forward instead of sleeping: escalation through every level, the queries, a
restart of the service, two replicas, and NATS and Redis going away."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.clock import SharedClock, advance_shared_clock
from chuishao.common.domain import ClockKind, Level, Location, Priority, Role, Whistle
from chuishao.common.events import (
    Event,
    SlaBreached,
    SlaClockArmed,
    TicketAcknowledged,
    TicketDispatched,
    TicketEscalated,
    TicketResolved,
    parse_event,
)
from chuishao.common.publishing import publish_event
from chuishao.common.queries import (
    ClockState,
    OverdueQuery,
    OverdueTickets,
    TicketDeadlines,
    TicketDeadlinesQuery,
)
from chuishao.common.streams import provision
from chuishao.embedded import NatsServer, RedisServer, free_port
from chuishao.sla.bootstrap import SlaService, bootstrap
from chuishao.sla.settings import SlaSettings
from support.servers import Servers

HOUR = 3600.0
# Small claim rounds, so that two replicas in one event loop take turns.
SMALL_ROUNDS = {"sla_claim_batch": 5, "sla_fire_chunk": 5}
FAST: dict[str, Any] = {
    "sla_tick_seconds": 0.05,
    "sla_sweep_interval_seconds": 3600.0,
    "log_level": "WARNING",
}


@contextlib.asynccontextmanager
async def running_sla(nats_url: str, redis_url: str, **overrides: Any) -> AsyncIterator[SlaService]:
    settings = SlaSettings(
        nats_url=nats_url, redis_url=redis_url, clock="shared", **FAST | overrides
    )
    service = bootstrap(settings)
    async with service.runtime.running():
        yield service


class Recorder:
    """Every event the TICKETS stream stored (so a de-duplicated repeat does not count)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def start(self, js: JetStreamContext) -> "Recorder":
        async def keep(msg: Msg) -> None:
            self.events.append(parse_event(msg.data))

        await js.subscribe("ticket.>", ordered_consumer=True, cb=keep)
        return self

    def of(self, kind: type[Event], ticket_id: str | None = None) -> list[Any]:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and (ticket_id is None or e.ticket_id == ticket_id)
        ]


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


def dispatch(
    clock: SharedClock,
    ticket_id: str,
    unit: str = "grid-heyuan",
    *,
    priority: Priority = Priority.NORMAL,
    level: Level = Level.COMMUNITY,
    street: str | None = "qingshi",
) -> TicketDispatched:
    return TicketDispatched.first(
        producer="router",
        clock=clock,
        ticket_id=ticket_id,
        unit_id=unit,
        unit_name=unit,
        role=Role.LEAD,
        level=level,
        whistle=Whistle.DAILY,
        category="fire_box",
        priority=priority,
        description="消防箱玻璃碎了",
        location=Location(grid_code="HY-01"),
        reason="test",
        street=street,
    )


@pytest.fixture
async def stack_clock(redis: Redis) -> AsyncIterator[SharedClock]:
    clock = SharedClock(redis)
    await clock.start()
    yield clock
    await clock.stop()


async def travel(redis: Redis, clock: SharedClock, hours: float) -> None:
    await advance_shared_clock(redis, hours * HOUR)
    await clock.refresh()


async def ask(nc: Client, subject: str, query: Any, answer: type[Any]) -> Any:
    reply = await nc.request(subject, query.model_dump_json().encode(), timeout=5)
    return answer.model_validate_json(reply.data)


@pytest.mark.usefixtures("clean")
async def test_a_ticket_climbs_every_level_as_its_clocks_run_out(
    servers: Servers, js: JetStreamContext, nc: Client, redis: Redis, stack_clock: SharedClock
) -> None:
    async with running_sla(servers.nats_url, servers.redis_url):
        seen = await Recorder().start(js)
        await publish_event(js, dispatch(stack_clock, "T-ladder"))
        await until(lambda: seen.of(SlaClockArmed, "T-ladder"))
        remaining = seen.of(SlaClockArmed)[0].deadline - stack_clock.now()
        assert remaining.total_seconds() > 47.9 * HOUR

        for hours, level in ((48, Level.COMMUNITY), (24, Level.STREET), (24, Level.DISTRICT)):
            await travel(redis, stack_clock, hours)

            def escalated_from(lvl: Level = level) -> bool:
                return any(e.from_level == lvl for e in seen.of(TicketEscalated))

            await until(escalated_from)
        await travel(redis, stack_clock, 24)
        await until(lambda: len(seen.of(SlaBreached)) == 4)
        await asyncio.sleep(0.3)  # time for a wrong extra escalation to show up

    escalations = [(e.from_level, e.to_level) for e in seen.of(TicketEscalated)]
    assert escalations == [
        (Level.COMMUNITY, Level.STREET),
        (Level.STREET, Level.DISTRICT),
        (Level.DISTRICT, Level.CITY),
    ]
    assert [e.level for e in seen.of(SlaClockArmed)] == list(Level)
    assert [e.level for e in seen.of(SlaBreached)] == list(Level)


@pytest.mark.usefixtures("clean")
async def test_the_queries_list_overdue_tickets_per_unit_and_street_and_every_deadline(
    servers: Servers, js: JetStreamContext, nc: Client, redis: Redis, stack_clock: SharedClock
) -> None:
    async with running_sla(servers.nats_url, servers.redis_url):
        seen = await Recorder().start(js)
        await publish_event(js, dispatch(stack_clock, "T-late", "grid-heyuan"))
        await publish_event(js, dispatch(stack_clock, "T-other-street", "grid-x", street="yunhe"))
        emergency = dispatch(stack_clock, "T-emergency", "fire-rescue", priority=Priority.EMERGENCY)
        await publish_event(js, emergency)
        await until(lambda: len(seen.of(SlaClockArmed)) == 5)
        await publish_event(
            js,
            TicketAcknowledged.caused_by(
                emergency, producer="intake", occurred_at=stack_clock.now(), unit_id="fire-rescue"
            ),
        )
        await travel(redis, stack_clock, 49)
        await until(lambda: len(seen.of(TicketEscalated)) == 3)

        mine = await ask(
            nc, subjects.SLA_OVERDUE, OverdueQuery(unit_id="grid-heyuan"), OverdueTickets
        )
        street = await ask(nc, subjects.SLA_OVERDUE, OverdueQuery(street="qingshi"), OverdueTickets)
        deadlines = await ask(
            nc,
            subjects.SLA_TICKET_DEADLINES,
            TicketDeadlinesQuery(ticket_id="T-emergency"),
            TicketDeadlines,
        )
        unknown = await ask(
            nc,
            subjects.SLA_TICKET_DEADLINES,
            TicketDeadlinesQuery(ticket_id="T-nope"),
            TicketDeadlines,
        )

    assert [t.ticket_id for t in mine.tickets] == ["T-late"]
    assert mine.tickets[0].units == ("grid-heyuan",)
    assert mine.tickets[0].overdue_seconds >= HOUR
    assert sorted(t.ticket_id for t in street.tickets) == ["T-emergency", "T-late"]
    by_kind = {(c.clock, c.level): c for c in deadlines.clocks}
    assert by_kind[(ClockKind.REPORT_FOR_DUTY, Level.COMMUNITY)].state == ClockState.STOPPED
    assert by_kind[(ClockKind.FIRST_RESPONSE, Level.COMMUNITY)].state == ClockState.BREACHED
    assert by_kind[(ClockKind.RESOLUTION, Level.COMMUNITY)].state == ClockState.BREACHED
    assert by_kind[(ClockKind.RESOLUTION, Level.STREET)].state == ClockState.RUNNING
    assert deadlines.level == Level.STREET
    assert not unknown.known


@pytest.mark.usefixtures("clean")
async def test_a_restart_of_the_sla_service_mid_way_fires_late_with_the_real_lateness(
    servers: Servers, js: JetStreamContext, redis: Redis, stack_clock: SharedClock
) -> None:
    async with running_sla(servers.nats_url, servers.redis_url):
        seen = await Recorder().start(js)
        await publish_event(js, dispatch(stack_clock, "T-restart"))
        await until(lambda: seen.of(SlaClockArmed))
    # Down while the deadline passes, and two more hours.
    await travel(redis, stack_clock, 50)
    await asyncio.sleep(0.2)
    assert not seen.of(SlaBreached)
    await publish_event(
        js,
        TicketResolved.first(
            producer="intake", clock=stack_clock, ticket_id="T-other", units=(), note=""
        ),
    )
    async with running_sla(servers.nats_url, servers.redis_url):
        await until(lambda: seen.of(TicketEscalated))
    breached = seen.of(SlaBreached)
    assert len(breached) == 1
    assert 2 * HOUR <= breached[0].overdue_seconds < 2 * HOUR + 60


@pytest.mark.usefixtures("clean")
async def test_two_replicas_never_fire_the_same_escalation_twice(
    servers: Servers, js: JetStreamContext, redis: Redis, stack_clock: SharedClock
) -> None:
    tickets = [f"T-pair-{n:03}" for n in range(300)]
    async with (
        running_sla(servers.nats_url, servers.redis_url, **SMALL_ROUNDS) as first,
        running_sla(servers.nats_url, servers.redis_url, **SMALL_ROUNDS) as second,
    ):
        seen = await Recorder().start(js)
        for ticket_id in tickets:
            await publish_event(js, dispatch(stack_clock, ticket_id))
        await until(lambda: len(seen.of(SlaClockArmed)) == len(tickets), timeout=30)
        await travel(redis, stack_clock, 48)
        await until(lambda: len(seen.of(TicketEscalated)) >= len(tickets), timeout=30)
        await asyncio.sleep(0.5)
        replicas = (first.supervisor.counters, second.supervisor.counters)

    assert sorted(e.ticket_id for e in seen.of(TicketEscalated)) == tickets
    # Each escalation was decided and committed by exactly one replica, and both worked.
    assert sum(r.escalations for r in replicas) == len(tickets)
    assert not set(replicas[0].escalated_tickets) & set(replicas[1].escalated_tickets)
    assert all(r.escalations > 0 for r in replicas)


@pytest.fixture
def own_servers(tmp_path: Path) -> Any:
    with (
        NatsServer(free_port(), tmp_path / "nats", sync_interval="always") as nats_server,
        RedisServer(free_port(), tmp_path / "redis") as redis_server,
    ):
        yield nats_server, redis_server


@pytest.fixture
async def own_clock(
    own_servers: tuple[NatsServer, RedisServer],
) -> AsyncIterator[tuple[Redis, SharedClock]]:
    """A client of the own redis-server and the shared clock on it, started."""
    redis = Redis.from_url(own_servers[1].url)
    clock = SharedClock(redis)
    await clock.start()
    yield redis, clock
    await clock.stop()
    await redis.aclose()


async def test_after_nats_server_was_down_past_a_deadline_the_breach_catches_up(
    own_servers: tuple[NatsServer, RedisServer], own_clock: tuple[Redis, SharedClock]
) -> None:
    (nats_server, redis_server), (redis, clock) = own_servers, own_clock
    async with running_sla(nats_server.url, redis_server.url):
        nc = await nats.connect(nats_server.url)
        await publish_event(nc.jetstream(), dispatch(clock, "T-outage"))
        for _ in range(500):
            if await redis.zscore("sla:timers", "T-outage") is not None:
                break
            await asyncio.sleep(0.02)
        await nc.close()

        nats_server.stop()
        await travel(redis, clock, 48)  # the deadline passes while NATS is down ...
        await asyncio.sleep(1.5)  # ... and stays passed for a while
        nats_server.start()

        nc = await nats.connect(nats_server.url)
        seen = await Recorder().start(nc.jetstream())
        await until(lambda: seen.of(TicketEscalated), timeout=20)
        await nc.close()

    breached = seen.of(SlaBreached)
    assert len(breached) == 1
    assert breached[0].overdue_seconds >= 1  # the real lateness, not the moment of claim
    assert breached[0].deadline <= breached[0].occurred_at


async def test_timers_survive_a_redis_server_restart(
    own_servers: tuple[NatsServer, RedisServer], own_clock: tuple[Redis, SharedClock]
) -> None:
    (nats_server, redis_server), (redis, clock) = own_servers, own_clock
    nc = await nats.connect(nats_server.url)
    await provision(nc.jetstream())
    seen = await Recorder().start(nc.jetstream())
    async with running_sla(nats_server.url, redis_server.url):
        await publish_event(nc.jetstream(), dispatch(clock, "T-redis"))
        await until(lambda: seen.of(SlaClockArmed))
        await asyncio.sleep(1.1)  # appendfsync everysec
        redis_server.stop()
        await asyncio.sleep(0.3)
        redis_server.start()
        await travel(redis, clock, 48)
        await until(lambda: seen.of(TicketEscalated), timeout=20)
    await nc.close()
    assert [e.from_level for e in seen.of(TicketEscalated)] == [Level.COMMUNITY]
