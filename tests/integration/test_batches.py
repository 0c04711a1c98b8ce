"""The batch consumer (chuishao.common.batches) on a real nats-server: what is waiting
comes as one batch, in stream order; a message alone goes through without waiting for a
batch to fill; a poison message is dead-lettered on its own and the rest goes on; a
failing batch is settled message by message, so only the failing one is retried and
then dead-lettered, and every other is acknowledged."""

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext

from chuishao.common.batches import BatchConsumer
from chuishao.common.delivery import DELIVERIES_HEADER, REASON_HEADER
from chuishao.common.events import TicketSubmitted
from chuishao.common.metrics import metrics_of
from chuishao.common.publishing import publish_event
from support.factories import submitted
from support.jetstream import connected_broker, dead_letters, policy_spec, settled, until
from support.servers import Servers

SPEC = policy_spec("test-batches")
pytestmark = pytest.mark.usefixtures("clean")


@dataclass
class Handler:
    """Applies events idempotently, as the services' handlers do; `broken` always fails."""

    batches: list[list[str]] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    tries: Counter[str] = field(default_factory=Counter)

    async def __call__(self, events: list[TicketSubmitted]) -> None:
        self.batches.append([event.description for event in events])
        for event in events:
            self.tries[event.description] += 1
            if event.description == "broken":
                raise RuntimeError("always fails")
            if event.description not in self.applied:
                self.applied.append(event.description)


@pytest.fixture
async def broker(
    servers: Servers, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[NatsBroker]:
    async with connected_broker(servers.nats_url, js, SPEC, monkeypatch) as broker:
        yield broker


@contextlib.asynccontextmanager
async def consuming(broker: NatsBroker, handler: Handler, **options: float) -> AsyncIterator[None]:
    consumer = BatchConsumer[TicketSubmitted](broker, SPEC, TicketSubmitted, handler, **options)  # type: ignore[arg-type]
    await consumer.start()
    try:
        yield
    finally:
        await consumer.stop()


async def publish(js: JetStreamContext, *descriptions: str) -> None:
    for n, description in enumerate(descriptions):
        event = submitted(ticket_id=f"T{n % 3}").model_copy(update={"description": description})
        await publish_event(js, event)


def outcomes(broker: NatsBroker) -> dict[str, float]:
    metric = metrics_of(broker).outcomes
    return {
        sample.labels["outcome"]: sample.value
        for sample in next(iter(metric.collect())).samples
        if sample.name.endswith("_total") and sample.labels["consumer"] == SPEC.name
    }


async def test_what_is_waiting_comes_as_one_batch_in_stream_order(
    broker: NatsBroker, js: JetStreamContext
) -> None:
    names = [f"e{n:02d}" for n in range(40)]
    await publish(js, *names)
    handler = Handler()
    async with consuming(broker, handler, batch_size=16):
        await until(lambda: len(handler.applied) == 40)
        await settled(js, SPEC.name)
    assert handler.applied == names
    assert [len(batch) for batch in handler.batches] == [16, 16, 8]
    assert outcomes(broker) == {"handled": 40.0}
    sizes = metrics_of(broker).registry
    assert (
        sizes.get_sample_value("chuishao_consumer_batch_size_count", {"consumer": SPEC.name}) == 3
    )
    assert sizes.get_sample_value("chuishao_consumer_batch_size_sum", {"consumer": SPEC.name}) == 40


async def test_a_message_alone_does_not_wait_for_a_batch_to_fill(
    broker: NatsBroker, js: JetStreamContext
) -> None:
    handler = Handler()
    async with consuming(broker, handler, batch_size=64, fetch_timeout=30.0):
        await asyncio.sleep(0.2)  # the consumer is waiting for its first message
        started = asyncio.get_running_loop().time()
        await publish(js, "alone")
        # The fetch waits up to 30 s for a batch of 64; it must hand this one over now.
        await until(lambda: handler.applied == ["alone"], timeout=10.0)
        assert asyncio.get_running_loop().time() - started < 10.0
    assert handler.batches == [["alone"]]


async def test_poison_is_dead_lettered_alone_and_the_batch_goes_on(
    broker: NatsBroker, js: JetStreamContext
) -> None:
    await publish(js, "a1", "a2")
    await js.publish("ticket.submitted.T9", b"{not json")
    await publish(js, "a3")
    handler = Handler()
    async with consuming(broker, handler):
        [letter] = await dead_letters(js, SPEC.name, 1)
        await until(lambda: len(handler.applied) == 3)
        await settled(js, SPEC.name)
    assert letter.headers[REASON_HEADER] == "unprocessable"  # type: ignore[attr-defined]
    assert handler.applied == ["a1", "a2", "a3"]
    assert handler.batches == [["a1", "a2", "a3"]]
    assert outcomes(broker) == {"handled": 3.0, "dead_lettered": 1.0}


async def test_a_failing_batch_is_settled_one_message_at_a_time(
    broker: NatsBroker, js: JetStreamContext
) -> None:
    await publish(js, "b1", "broken", "b2", "b3")
    handler = Handler()
    async with consuming(broker, handler):
        [letter] = await dead_letters(js, SPEC.name, 1)
        await settled(js, SPEC.name)
    assert letter.headers[REASON_HEADER] == "retries_exhausted"  # type: ignore[attr-defined]
    assert letter.headers[DELIVERIES_HEADER] == str(SPEC.max_deliver)  # type: ignore[attr-defined]
    assert TicketSubmitted.model_validate_json(letter.data).description == "broken"  # type: ignore[attr-defined]
    # The batch failed at `broken`; then each alone: the others acknowledged at once,
    # only `broken` tried again until its deliveries ran out.
    assert handler.batches[0] == ["b1", "broken", "b2", "b3"]
    assert handler.applied == ["b1", "b2", "b3"]
    assert handler.tries["broken"] == 1 + SPEC.max_deliver
    assert handler.tries["b3"] == 1
    assert outcomes(broker) == {"handled": 3.0, "retried": 2.0, "dead_lettered": 1.0}
