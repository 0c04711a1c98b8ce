"""Builds the sla service: the lifecycle consumer, the timer loop, the reconciliation
sweep and the query responders, on one broker and one Redis."""

import asyncio

from faststream import FastStream

from chuishao.common import subjects
from chuishao.common.broker import durable_subscriber, make_broker
from chuishao.common.clients import redis_client, wait_for_servers
from chuishao.common.clock import Clock, make_clock, start_clock, stop_clock
from chuishao.common.events import AnyEvent
from chuishao.common.logging import configure_logging
from chuishao.common.metrics import expose_metrics
from chuishao.common.queries import (
    OverdueQuery,
    OverdueTickets,
    TicketDeadlines,
    TicketDeadlinesQuery,
)
from chuishao.common.streams import SLA, provision
from chuishao.sla import rebuild, views
from chuishao.sla.decisions import PRODUCER
from chuishao.sla.policies import PolicyBook
from chuishao.sla.settings import SlaSettings
from chuishao.sla.supervisor import Supervisor
from chuishao.sla.sweep import run_sweeps, sweep


class SlaService:
    def __init__(self, settings: SlaSettings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings = settings or SlaSettings()
        self.logger = configure_logging(PRODUCER, settings.log_level, settings.log_format)
        self.broker = broker = make_broker(settings, self.logger)
        self.redis = redis_client(settings)
        self.clock = clock or make_clock(settings, self.redis)
        self.book = PolicyBook.load(settings.sla_policies_file)
        self._supervisor: Supervisor | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.app = app = FastStream(broker, logger=self.logger)
        expose_metrics(app, broker, PRODUCER)

        @durable_subscriber(broker, SLA)
        async def on_lifecycle(event: AnyEvent) -> None:
            await self.supervisor.apply(event)

        @broker.subscriber(subjects.SLA_TICKET_DEADLINES, queue=PRODUCER)
        async def deadlines(query: TicketDeadlinesQuery) -> TicketDeadlines:
            return await views.ticket_deadlines(
                query, self.supervisor.store, self.book, self.clock.now()
            )

        @broker.subscriber(subjects.SLA_OVERDUE, queue=PRODUCER)
        async def overdue(query: OverdueQuery) -> OverdueTickets:
            return await views.overdue(
                query, self.redis, self.supervisor.store, self.book, self.clock.now()
            )

        app.on_startup(self._connect)
        app.after_startup(self._start_loops)
        app.on_shutdown(self._stop_loops)
        app.after_shutdown(self._close)

    @property
    def supervisor(self) -> Supervisor:
        if self._supervisor is None:
            raise RuntimeError("the sla service has not started")
        return self._supervisor

    async def _connect(self) -> None:
        await wait_for_servers(self.settings)
        await self.broker.connect()
        await provision(
            self.broker.connection.jetstream(), (SLA,), replicas=self.settings.stream_replicas
        )
        await start_clock(self.clock)
        self._supervisor = Supervisor(
            redis=self.redis,
            nats=self.broker.connection,
            book=self.book,
            clock=self.clock,
            settings=self.settings,
        )
        self.logger.info("sla_ready", policies=self.book.source, clock=type(self.clock).__name__)

    async def _start_loops(self) -> None:
        supervisor = self.supervisor
        await rebuild.check_once(supervisor)  # states Redis forgot, from TICKETS
        await sweep(supervisor)  # repair whatever drifted while we were down
        self._tasks = [
            asyncio.create_task(
                rebuild.keep_checking(supervisor, self.settings.sla_state_check_seconds),
                name="sla-state-checks",
            ),
            asyncio.create_task(supervisor.run_timers(), name="sla-timers"),
            asyncio.create_task(run_sweeps(supervisor), name="sla-sweeps"),
        ]

    async def _stop_loops(self) -> None:
        if self._supervisor is not None:
            self._supervisor.stop()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=15)
        self._tasks = []
        await stop_clock(self.clock)

    async def _close(self) -> None:
        await self.redis.aclose()


def create_app(settings: SlaSettings | None = None, clock: Clock | None = None) -> FastStream:
    return SlaService(settings, clock).app


__all__ = ["SlaService", "create_app"]
