"""The one service runtime (chuishao.common.runtime) on real servers: it starts a
service's steps in the phases' order whatever order they were registered in, stops them
in the reverse order, undoes a start-up that fails half-way, and ends on SIGTERM."""

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable

import httpx
import nats.errors
import pytest

from chuishao.common import transient
from chuishao.common.broker import make_broker
from chuishao.common.clients import redis_client
from chuishao.common.clock import ManualClock
from chuishao.common.logging import configure_logging
from chuishao.common.loops import every
from chuishao.common.metrics import MetricsSettings
from chuishao.common.runtime import Phase, Runtime
from chuishao.common.settings import ServiceSettings
from chuishao.common.streams import ROUTER
from chuishao.embedded import free_port
from support.servers import Servers

pytestmark = pytest.mark.usefixtures("clean")


def runtime_for(servers: Servers) -> Runtime:
    settings = ServiceSettings(nats_url=servers.nats_url, redis_url=servers.redis_url)
    broker = make_broker(settings, configure_logging("runtime-test"))
    return Runtime(
        "runtime-test",
        settings,
        broker=broker,
        redis=redis_client(settings),
        clock=ManualClock(),
    )


def record(runtime: Runtime, log: list[str], phase: Phase, name: str) -> None:
    async def start() -> None:
        log.append(f"start {name}")

    async def stop() -> None:
        log.append(f"stop {name}")

    runtime.add(phase, name, start, stop)


async def test_steps_start_in_phase_order_and_stop_in_reverse(servers: Servers) -> None:
    runtime = runtime_for(servers)
    log: list[str] = []
    stepped = asyncio.Event()

    async def step() -> None:
        # A loop starts after the consumers and the read models: NATS is there.
        assert runtime.broker.connection.is_connected
        stepped.set()

    runtime.loop(every(0.01, step, name="probe"))
    record(runtime, log, Phase.READY, "ready")
    record(runtime, log, Phase.PREPARE, "prepare")
    record(runtime, log, Phase.VIEWS, "view")
    runtime.streams(ROUTER)
    async with runtime.running():
        await asyncio.wait_for(stepped.wait(), 10)
        assert log == ["start view", "start prepare", "start ready"]
        js = runtime.broker.connection.jetstream()
        assert (await js.consumer_info(ROUTER.stream, ROUTER.name)).name == ROUTER.name
        assert runtime.loops["probe"].running
    assert log[3:] == ["stop ready", "stop prepare", "stop view"]
    assert not runtime.loops["probe"].running


async def test_a_start_up_that_fails_stops_what_had_started(servers: Servers) -> None:
    runtime = runtime_for(servers)
    log: list[str] = []
    record(runtime, log, Phase.VIEWS, "view")

    async def broken() -> None:
        raise ValueError("a directory with a problem")

    runtime.add(Phase.PREPARE, "broken", broken)
    record(runtime, log, Phase.READY, "ready")
    with pytest.raises(ValueError, match="directory"):
        await runtime.start()
    assert log == ["start view", "stop view"]  # never ready; the view stopped again


async def test_an_idempotent_step_rides_through_a_server_restart_a_plain_one_does_not(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sla's catch-up asked JetStream for the stream's last sequence while nats-server
    restarted; the request timed out, the start-up failed and sla exited, its consumer 21
    messages behind for good (the fault suite, beside a busy core)."""
    monkeypatch.setattr(transient, "backoff", lambda: iter([0.0] * 10))
    failures = {"catch up": 2, "plain": 1}

    def flaky(name: str) -> Callable[[], Awaitable[None]]:
        async def start() -> None:
            if failures[name]:
                failures[name] -= 1
                raise nats.errors.TimeoutError

        return start

    runtime = runtime_for(servers)
    runtime.add(Phase.READY, "catch up", flaky("catch up"), idempotent=True)
    async with runtime.running():
        assert failures["catch up"] == 0

    runtime = runtime_for(servers)
    runtime.add(Phase.READY, "plain", flaky("plain"))
    with pytest.raises(nats.errors.TimeoutError):
        await runtime.start()


async def test_sigterm_stops_a_running_service(servers: Servers) -> None:
    runtime = runtime_for(servers)
    log: list[str] = []
    record(runtime, log, Phase.READY, "ready")
    ready = asyncio.Event()

    async def started() -> None:
        ready.set()

    runtime.add(Phase.READY, "signal", started)
    running = asyncio.create_task(runtime.run())
    await asyncio.wait_for(ready.wait(), 10)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(running, 20)
    assert log == ["start ready", "stop ready"]


async def test_a_broker_service_serves_health_beside_metrics(servers: Servers) -> None:
    settings = ServiceSettings(nats_url=servers.nats_url, redis_url=servers.redis_url)
    runtime = Runtime(
        "router",  # a service without HTTP of its own: its port is the router's metrics port
        settings,
        broker=make_broker(settings, configure_logging("runtime-test")),
        redis=redis_client(settings),
        clock=ManualClock(),
    )
    port = free_port()
    runtime.metrics(MetricsSettings(router_metrics_port=port))
    async with runtime.running(), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        health = await http.get("/health")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        assert "process_cpu_seconds_total" in metrics.text
        assert (await http.get("/nothing")).status_code == 404
        await runtime.redis.aclose()  # Redis gone for this service: not healthy
        nowhere = "redis://127.0.0.1:1/0"
        runtime.redis = redis_client(ServiceSettings(redis_url=nowhere, redis_retries=0))
        unhealthy = await http.get("/health", timeout=60)
        await runtime.redis.aclose()
        assert unhealthy.status_code == 503
        assert unhealthy.json()["status"] == "unavailable"
    with pytest.raises(httpx.ConnectError):  # stopped with the service
        await httpx.AsyncClient().get(f"http://127.0.0.1:{port}/health")
