"""The runtime's cost per message (#18), on real nats-server and redis-server: metric
children bound once, not looked up for every message; events validated from the bytes;
a batch's "already handled" check in one round trip; no line per routed message above
DEBUG."""

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from faststream.message import utils as message_utils
from nats.js import JetStreamContext
from prometheus_client.metrics import MetricWrapperBase

from chuishao.common import streams
from chuishao.common.broker import durable_subscriber
from chuishao.common.clock import ManualClock
from chuishao.common.events import AnyEvent, TicketSubmitted
from chuishao.common.handled import mark_handled, unhandled
from chuishao.common.metrics import metrics_of
from chuishao.common.publishing import publish_event
from chuishao.router import service as router_service
from chuishao.router.bootstrap import bootstrap
from chuishao.router.settings import RouterSettings
from support.brokers import broker_for
from support.counting import CountingRedis
from support.factories import submitted
from support.jetstream import until
from support.servers import Servers

SPEC = streams.ConsumerSpec(
    "test-tax", "TICKETS", ("ticket.submitted.*",), max_deliver=3, ack_wait_seconds=5
)
MESSAGES = 30
pytestmark = pytest.mark.usefixtures("clean")


async def test_metric_children_are_bound_once_not_per_message(
    servers: Servers, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[tuple[str, ...]] = []
    labels = MetricWrapperBase.labels

    def counted(self: MetricWrapperBase, *args: Any, **kwargs: Any) -> Any:
        lookups.append(tuple(kwargs.values()))
        return labels(self, *args, **kwargs)

    monkeypatch.setattr(MetricWrapperBase, "labels", counted)
    broker = await broker_for(SPEC, servers, js, monkeypatch)
    handled: list[str] = []

    @durable_subscriber(broker, SPEC)
    async def handle(event: TicketSubmitted) -> None:
        handled.append(event.ticket_id)

    base = submitted()
    for n in range(MESSAGES):
        event = base.model_copy(update={"event_id": f"tax-{n}", "ticket_id": f"T2026010500{n:04d}"})
        await publish_event(js, event)
    await broker.start()
    try:
        text = ""

        def counted_all() -> bool:
            nonlocal text
            text = metrics_of(broker).render().decode()
            return f'status="acked"}} {float(MESSAGES)}' in text

        await until(lambda: len(handled) == MESSAGES)
        await until(counted_all)
    finally:
        await broker.stop()
    # FastStream's middleware and the outcome counter looked up seven children for every
    # message (210 here); bound once, the lookups do not grow with the messages.
    assert len(lookups) <= 10, lookups
    # The same metrics as before, ids out of the handler label.
    handler = 'app_name="chuishao",broker="nats",handler="ticket.submitted.*"'
    assert f"faststream_received_messages_total{{{handler}}} {float(MESSAGES)}" in text
    assert f"faststream_received_messages_in_process{{{handler}}} 0.0" in text
    assert f"faststream_received_processed_messages_duration_seconds_count{{{handler}}}" in text
    assert (
        f'chuishao_consumer_messages_total{{consumer="test-tax",outcome="handled"}} '
        f"{float(MESSAGES)}" in text
    )
    assert "T2026010500" not in text


async def test_a_batch_reads_its_handled_check_in_one_trip(servers: Servers) -> None:
    """The router's and notify's batches (chuishao.common.handled.unhandled): one round
    trip whatever the batch's size; an event handled before is left out, an event twice
    in the batch is kept once."""
    redis = CountingRedis.from_url(servers.redis_url)
    events = [submitted(ticket_id=f"T2026010500{n:04d}") for n in range(50)]
    try:
        CountingRedis.zero()
        assert await unhandled(redis, "router", events) == list(range(50))
        assert CountingRedis.trips == 1  # was one per event
        await mark_handled(redis, "router", events[3])
        CountingRedis.zero()
        assert await unhandled(redis, "router", [*events[:5], events[1]]) == [0, 1, 2, 4]
        assert CountingRedis.trips == 1
        assert await unhandled(redis, "notify", events[3:4]) == [0]  # each consumer its own
    finally:
        await redis.aclose()


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, *_args: Any, **_fields: Any) -> None:
            self.lines.append((level, event))

        return record


@pytest.fixture
async def router(servers: Servers, tmp_path: Path) -> AsyncIterator[router_service.RouterService]:
    path = tmp_path / "directory.toml"
    shutil.copy(RouterSettings().directory_file, path)
    settings = RouterSettings(
        nats_url=servers.nats_url, redis_url=servers.redis_url, directory_file=path
    )
    service = bootstrap(settings, clock=ManualClock())
    async with service.runtime.running():
        yield service


async def test_a_routed_message_writes_no_line_above_debug(
    router: router_service.RouterService, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(router_service, "log", recorder)
    event: TicketSubmitted = submitted(ticket_id="T20260105009901")
    await router.handle(event)
    assert ("debug", "routed") in recorder.lines
    assert [line for line in recorder.lines if line[0] != "debug"] == []


async def test_events_are_validated_from_the_message_bytes_without_dicts(
    servers: Servers, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastStream's default decoder turns the JSON into dicts (json.loads) for pydantic to
    # validate again; the runtime's decoder hands the bytes to pydantic once.
    loads: list[bytes] = []
    original = message_utils.__dict__["json_loads"]

    def counted(data: Any, *args: Any, **kwargs: Any) -> Any:
        loads.append(data)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(message_utils, "json_loads", counted)
    broker = await broker_for(SPEC, servers, js, monkeypatch)
    received: list[AnyEvent] = []

    @durable_subscriber(broker, SPEC)
    async def handle(event: AnyEvent) -> None:
        received.append(event)

    event = submitted(ticket_id="T20260105009902")
    await publish_event(js, event)
    await broker.start()
    try:
        await until(lambda: len(received) == 1)
    finally:
        await broker.stop()
    assert isinstance(received[0], TicketSubmitted)
    assert received[0].ticket_id == event.ticket_id
    assert [data for data in loads if b"T20260105009902" in bytes(data)] == []
