"""The delivery tests on a real nats-server: their consumer, and waiting for a condition, a
consumer that has settled every message, the dead letters of a consumer."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from faststream.nats import NatsBroker
from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext

from chuishao.common import streams
from chuishao.common.broker import make_broker
from chuishao.common.logging import configure_logging
from chuishao.common.settings import ServiceSettings
from chuishao.common.streams import ConsumerSpec


def policy_spec(name: str, ack_wait_seconds: float = 5) -> ConsumerSpec:
    """A consumer of submitted tickets with a short delivery policy: three deliveries,
    retries 0.05 s apart."""
    return ConsumerSpec(
        name,
        "TICKETS",
        ("ticket.submitted.*",),
        max_deliver=3,
        ack_wait_seconds=ack_wait_seconds,
        backoff_seconds=(0.05,),
    )


@contextlib.asynccontextmanager
async def connected_broker(
    nats_url: str, js: JetStreamContext, spec: ConsumerSpec, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[NatsBroker]:
    """A connected broker with `spec` declared and known to the delivery policy."""
    monkeypatch.setitem(streams.CONSUMERS, spec.name, spec)
    await streams.provision(js, (spec,))
    broker = make_broker(ServiceSettings(nats_url=nats_url), configure_logging("test"))
    await broker.connect()
    try:
        yield broker
    finally:
        with contextlib.suppress(ConnectionClosedError):  # a test may have closed it
            await broker.stop()


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


async def settled(js: JetStreamContext, consumer: str, timeout: float = 10.0) -> None:
    """Every delivered message acked: the ack reaches the server a moment after the
    handler's effect is visible, so read the consumer until it says so (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        info = await js.consumer_info("TICKETS", consumer)
        if info.num_ack_pending == 0 and info.num_pending == 0:
            return
        assert asyncio.get_running_loop().time() < deadline, f"never settled: {info}"
        await asyncio.sleep(0.05)


async def dead_letters(js: JetStreamContext, consumer: str, expected: int) -> list[object]:
    sub = await js.pull_subscribe(f"dlq.{consumer}", stream="DEADLETTER")
    found: list[object] = []
    for _ in range(75):
        with contextlib.suppress(TimeoutError):
            found += await sub.fetch(expected - len(found), timeout=0.2)
        if len(found) >= expected:
            break
    await sub.unsubscribe()
    return found
