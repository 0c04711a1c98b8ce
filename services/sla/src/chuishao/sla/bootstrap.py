"""The sla service's composition root: the lifecycle consumer, the timer loop, the
reconciliation sweep, the state checks, the outbox relay and the query responders, on one
broker and one Redis, started in the runtime's order."""

import structlog
from faststream.nats import NatsBroker
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.batches import BatchConsumer
from chuishao.common.clock import Clock
from chuishao.common.events import AnyEvent
from chuishao.common.loops import every
from chuishao.common.queries import (
    OverdueQuery,
    OverdueTickets,
    TicketDeadlines,
    TicketDeadlinesQuery,
)
from chuishao.common.runtime import Phase, Runtime, compose
from chuishao.common.streams import SLA
from chuishao.sla import rebuild, views
from chuishao.sla.decisions import PRODUCER
from chuishao.sla.policies import PolicyBook
from chuishao.sla.settings import SlaSettings
from chuishao.sla.supervisor import Supervisor
from chuishao.sla.sweep import sweep

log = structlog.get_logger()
RELAY_SECONDS = 2.0  # how often the outbox relay looks


class SlaService:
    """The running parts; the supervisor exists once NATS is connected."""

    def __init__(self, runtime: Runtime, settings: SlaSettings, book: PolicyBook) -> None:
        self.runtime = runtime
        self.settings = settings
        self.broker, self.redis, self.clock = runtime.broker, runtime.redis, runtime.clock
        self.book = book
        self._supervisor: Supervisor | None = None

    @property
    def supervisor(self) -> Supervisor:
        if self._supervisor is None:
            raise RuntimeError("the sla service has not started")
        return self._supervisor

    async def connect(self) -> None:
        self._supervisor = Supervisor(
            redis=self.redis,
            nats=self.broker.connection,
            book=self.book,
            clock=self.clock,
            settings=self.settings,
        )
        log.info("sla_ready", policies=self.book.source, clock=type(self.clock).__name__)

    async def catch_up(self) -> None:
        await rebuild.check_once(self.supervisor)  # states Redis forgot, from TICKETS
        await sweep(self.supervisor)  # repair whatever drifted while we were down

    async def timers(self) -> bool:
        return await self.supervisor.timer_round()

    async def sweep(self) -> None:
        await sweep(self.supervisor)

    async def check_states(self) -> None:
        """A Redis rolled back under a running sla is repaired within one interval."""
        await rebuild.check_once(self.supervisor)

    async def relay(self) -> None:
        # Past the publish timeout: what a decision is still publishing is not sent twice.
        await self.supervisor.relay(self.settings.sla_publish_timeout_seconds + 1.0)


def bootstrap(
    settings: SlaSettings,
    *,
    clock: Clock | None = None,
    redis: Redis | None = None,
    broker: NatsBroker | None = None,
) -> SlaService:
    """Build sla; a test passes its own clock, Redis or broker (and closes them itself)."""
    runtime = compose(PRODUCER, settings, clock=clock, redis=redis, broker=broker)
    broker, redis, clock = runtime.broker, runtime.redis, runtime.clock
    service = SlaService(runtime, settings, PolicyBook.load(settings.sla_policies_file))

    # A batch at a time: what is waiting (up to `sla_batch_size`) is decided and committed
    # in a few round trips (Supervisor.apply_batch); alone at low load.
    async def on_lifecycle(events: list[AnyEvent]) -> None:
        await service.supervisor.apply_batch(events)

    consumer = BatchConsumer[AnyEvent](
        broker, SLA, AnyEvent, on_lifecycle, batch_size=settings.sla_batch_size
    )

    @broker.subscriber(subjects.SLA_TICKET_DEADLINES, queue=PRODUCER)
    async def deadlines(query: TicketDeadlinesQuery) -> TicketDeadlines:
        return await views.ticket_deadlines(
            query, service.supervisor.store, service.book, clock.now()
        )

    @broker.subscriber(subjects.SLA_OVERDUE, queue=PRODUCER)
    async def overdue(query: OverdueQuery) -> OverdueTickets:
        return await views.overdue(
            query, redis, service.supervisor.store, service.book, clock.now()
        )

    runtime.streams(SLA)
    runtime.batches(consumer)
    runtime.add(Phase.PREPARE, "supervisor", service.connect)
    runtime.add(Phase.READY, "catch up", service.catch_up, idempotent=True)
    runtime.loop(
        every(
            settings.sla_state_check_seconds,
            service.check_states,
            name="sla-state-checks",
            wait_first=True,
        )
    )
    runtime.loop(every(settings.sla_tick_seconds, service.timers, name="sla-timers"))
    runtime.loop(
        every(
            settings.sla_sweep_interval_seconds, service.sweep, name="sla-sweeps", wait_first=True
        )
    )
    runtime.loop(every(RELAY_SECONDS, service.relay, name="outbox-relay"))
    return service
