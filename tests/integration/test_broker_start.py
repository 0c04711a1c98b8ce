"""A service's broker start rides through JetStream requests that time out (a loaded
machine, a restarting nats-server): it tries again instead of the process exiting, and
each handler ends up subscribed once."""

import asyncio
from collections import Counter

import nats.errors
import pytest
from nats.js import JetStreamContext

from chuishao.common import streams
from chuishao.common.broker import durable_subscriber
from chuishao.common.events import TicketSubmitted
from chuishao.common.publishing import publish_event
from support.brokers import broker_for
from support.factories import submitted
from support.servers import Servers

SPEC = streams.ConsumerSpec("test-start", "TICKETS", ("ticket.submitted.*",))
pytestmark = pytest.mark.usefixtures("clean")


async def test_a_start_whose_subscribe_times_out_is_tried_again_and_subscribes_once(
    servers: Servers, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = await broker_for(SPEC, servers, js, monkeypatch)
    seen: Counter[str] = Counter()

    @durable_subscriber(broker, SPEC)
    async def handle(event: TicketSubmitted) -> None:
        seen[event.ticket_id] += 1

    @broker.subscriber("test.start.core")
    async def core() -> None:  # a second subscriber, started before the one that fails
        pass

    # The durable subscriber's first subscribe times out, as consumer_info did under load.
    [durable] = [s for s in broker.subscribers if getattr(s, "stream", None) is not None]
    real_create = durable._create_subscription  # type: ignore[attr-defined]
    failures = iter([nats.errors.TimeoutError()])

    async def flaky_create() -> None:
        if (failure := next(failures, None)) is not None:
            raise failure
        await real_create()

    monkeypatch.setattr(durable, "_create_subscription", flaky_create)
    await broker.connect()
    await asyncio.wait_for(broker.start(), 30)
    try:
        await publish_event(js, submitted(ticket_id="T20260101000001"))
        deadline = asyncio.get_running_loop().time() + 10
        while not seen:
            assert asyncio.get_running_loop().time() < deadline, "never delivered"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert seen == Counter({"T20260101000001": 1})
        core_subscriptions = [
            s for s in broker.subscribers if getattr(s, "subscription", None) is not None
        ]
        assert len(core_subscriptions) == 2  # each handler subscribed once, none twice
    finally:
        await broker.stop()
