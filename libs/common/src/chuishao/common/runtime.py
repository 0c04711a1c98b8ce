"""How every service starts and stops: one order, one place.

A service's composition root (`<service>/bootstrap.py`) builds its parts and registers
them here; the runtime owns the order. Starting goes through the phases below, each
step logged; stopping runs the started steps' stop hooks in the reverse order, so a
loop stops before the broker it publishes on, and the broker before Redis closes. A
start-up that fails half-way stops what it had started.

    SERVERS  wait until Redis answers and NATS serves JetStream
    CONNECT  the clock, the broker's connection
    STREAMS  streams and durable consumers (chuishao.common.streams)
    VIEWS    read models kept by a watch (catalogue, units, places)
    PREPARE  the service's own steps (rebuilds, publishing read models)
    CONSUME  the broker's subscribers, then the batch consumers (chuishao.common.batches)
    READY    steps that need the consumers running (sla's first sweep)
    LOOPS    background loops (chuishao.common.loops)
    SERVE    /metrics and /health for the services without HTTP (added by `serve`)

Broker services run with `serve(runtime)`: uvloop, SIGINT/SIGTERM end it. HTTP services
(intake, supervision) run under uvicorn with `serve_http`, their FastAPI lifespan being
`runtime.lifespan`; uvicorn handles the signals.
"""

import asyncio
import contextlib
import enum
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog
import uvloop
from faststream.nats import NatsBroker
from redis.asyncio import Redis

from chuishao.common import packing
from chuishao.common.batches import BatchConsumer
from chuishao.common.broker import make_broker
from chuishao.common.clients import redis_client, wait_for_servers
from chuishao.common.clock import Clock, make_clock, start_clock, stop_clock
from chuishao.common.kv import KvView
from chuishao.common.logging import configure_logging
from chuishao.common.loops import Loop
from chuishao.common.metrics import MetricsServer, MetricsSettings, metrics_of
from chuishao.common.settings import ServiceSettings
from chuishao.common.streams import ConsumerSpec, provision
from chuishao.common.transient import retried

log = structlog.get_logger()
Hook = Callable[[], Awaitable[object]]


class Phase(enum.IntEnum):
    SERVERS = 0
    CONNECT = 1
    STREAMS = 2
    VIEWS = 3
    PREPARE = 4
    CONSUME = 5
    READY = 6
    LOOPS = 7
    SERVE = 8


@dataclass(frozen=True)
class Step:
    phase: Phase
    name: str
    start: Hook | None
    stop: Hook | None


async def _check_dictionaries() -> None:
    packing.check_dictionaries()


class Runtime:
    """One service's start-up and shutdown. Register with `add`, `streams`, `view`,
    `loop`; then `serve(runtime)`, `async with runtime.running()`, or the lifespan."""

    def __init__(
        self,
        name: str,
        settings: ServiceSettings,
        *,
        broker: NatsBroker,
        redis: Redis,
        clock: Clock,
        close_redis: bool = True,
    ) -> None:
        self.name = name
        self.settings = settings
        self.broker = broker
        self.redis = redis
        self.clock = clock
        self._steps: list[Step] = []
        self._started: list[Step] = []
        self.loops: dict[str, Loop] = {}
        self.add(Phase.SERVERS, "wait for servers", lambda: wait_for_servers(settings))
        packing.configure(packed=settings.packed_values)
        self.add(Phase.SERVERS, "packing dictionaries", _check_dictionaries)
        # Redis closes last of all: registered first, stopped last.
        self.add(Phase.CONNECT, "redis", None, redis.aclose if close_redis else None)
        self.add(Phase.CONNECT, "clock", lambda: start_clock(clock), lambda: stop_clock(clock))
        # The broker's stop drains the connection; at CONNECT it is for a start-up that
        # failed before the consumers, a second call after CONSUME changes nothing.
        self.add(Phase.CONNECT, "connect nats", broker.connect, broker.stop)
        self.add(Phase.CONSUME, "consumers", broker.start, broker.stop)

    # --- registration

    def add(
        self,
        phase: Phase,
        name: str,
        start: Hook | None,
        stop: Hook | None = None,
        *,
        idempotent: bool = False,
    ) -> None:
        """A start-up step and its stop. An `idempotent` start is tried again while it
        fails transiently (a server restarting as the service starts): otherwise the
        failure ends the start-up and the process exits with its backlog growing."""
        if idempotent and start is not None:
            once = start

            async def start_retried() -> None:
                await retried(once, name)

            start = start_retried
        self._steps.append(Step(phase, name, start, stop))

    def streams(self, *specs: ConsumerSpec) -> None:
        async def declare() -> None:
            js = self.broker.connection.jetstream()
            await provision(js, specs, replicas=self.settings.stream_replicas)

        self.add(Phase.STREAMS, "streams " + ",".join(spec.name for spec in specs), declare)

    def view(self, view: KvView[Any], *, wait_loaded: float = 0.0) -> None:
        """A read model; `wait_loaded` seconds at most for its first full load (an empty
        bucket still loads; only a stalled server makes it wait)."""

        async def start() -> None:
            await view.start(self.broker.connection.jetstream())
            if wait_loaded:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(view.loaded.wait(), timeout=wait_loaded)

        self.add(Phase.VIEWS, f"view {view.config.bucket}", start, view.stop)

    def loop(self, loop: Loop) -> Loop:
        self.loops[loop.name] = loop
        self.add(Phase.LOOPS, f"loop {loop.name}", loop.start, loop.stop)
        return loop

    def batches(self, consumer: BatchConsumer[Any]) -> BatchConsumer[Any]:
        """A consumer that takes a batch at a time: started after the broker's
        subscribers, stopped before them."""
        self.add(Phase.CONSUME, f"batches {consumer.name}", consumer.start, consumer.stop)
        return consumer

    def metrics(self, settings: MetricsSettings | None = None) -> MetricsServer:
        """/metrics and /health on their own port (`CHUISHAO_<SERVICE>_METRICS_PORT`, 0:
        none), for the services without HTTP of their own."""
        settings = settings or MetricsSettings()
        server = MetricsServer(
            metrics_of(self.broker),
            settings.metrics_host,
            settings.port_of(self.name),
            health=self.health,
        )
        self.add(Phase.SERVE, "metrics", lambda: server.start(self.name), server.stop)
        return server

    # --- running

    async def start(self) -> None:
        for step in sorted(self._steps, key=lambda step: step.phase):  # stable: in order added
            log.info("service_starting", service=self.name, phase=step.phase.name, step=step.name)
            try:
                if step.start is not None:
                    await step.start()
            except BaseException:
                log.error("service_start_failed", service=self.name, step=step.name)
                await self.stop()
                raise
            self._started.append(step)
        log.info("service_started", service=self.name)

    async def stop(self) -> None:
        while self._started:
            step = self._started.pop()
            if step.stop is None:
                continue
            log.info("service_stopping", service=self.name, phase=step.phase.name, step=step.name)
            try:
                await step.stop()
            except Exception as error:  # noqa: BLE001 - the later steps must still stop
                log.error(
                    "service_stop_failed", service=self.name, step=step.name, error=repr(error)
                )
        log.info("service_stopped", service=self.name)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["Runtime"]:
        """The whole service in this process (tests, the demo)."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        """A FastAPI/Starlette lifespan: the service runs while the app serves."""
        async with self.running():
            yield

    async def run(self) -> None:
        """Until SIGINT or SIGTERM."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stopping.set)
        try:
            async with self.running():
                await stopping.wait()
                log.info("service_signalled", service=self.name)
        finally:
            for sig in signals:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)

    async def health(self) -> dict[str, str]:
        """/health: Redis answers (or this raises), and whether NATS is connected."""
        await self.redis.ping()
        return {"status": "ok" if self.broker.connection.is_connected else "degraded"}


def compose(
    name: str,
    settings: ServiceSettings,
    *,
    clock: Clock | None = None,
    redis: Redis | None = None,
    broker: NatsBroker | None = None,
) -> Runtime:
    """The parts every service starts from, for its `bootstrap`: logging, the broker, Redis
    and the clock (`CHUISHAO_CLOCK`). A test passes its own clock, Redis or broker; what
    it passes it closes itself (the runtime closes only the Redis client it made)."""
    logger = configure_logging(name, settings.log_level, settings.log_format)
    broker = broker or make_broker(settings, logger)
    own_redis = redis is None
    redis = redis or redis_client(settings)
    clock = clock or make_clock(settings, redis)
    return Runtime(name, settings, broker=broker, redis=redis, clock=clock, close_redis=own_redis)


def serve(main: Runtime | Coroutine[Any, Any, None]) -> None:
    """Run a broker service as a process, /metrics and /health on its own port, on uvloop:
    the broker services spend most of their time in socket writes and callbacks, which
    uvloop does in C. (In-process runs, the tests', serve no such port.)"""
    if isinstance(main, Runtime):
        main.metrics()
        main = main.run()
    uvloop.run(main)


def serve_http(app: Any, host: str, port: int, **options: Any) -> None:
    """Run an HTTP service's app under uvicorn (on uvloop when installed)."""
    import uvicorn  # noqa: PLC0415 - only the HTTP services have it

    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        # uvicorn's loggers go up to the root handler configure_logging installed, which
        # masks residents' numbers in every line, tracebacks of a 500 included.
        log_config=None,
        log_level="warning",
        **options,
    )
