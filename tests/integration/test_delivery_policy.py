"""The ack policy on a real nats-server: retry with back-off, then dead-letter with the
reason; poison goes straight to the dead letters; nothing is dropped silently."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext

from chuishao.common import delivery, streams
from chuishao.common.broker import durable_subscriber, make_broker
from chuishao.common.delivery import DELIVERIES_HEADER, ERROR_HEADER, REASON_HEADER
from chuishao.common.events import TicketSubmitted
from chuishao.common.logging import configure_logging
from chuishao.common.publishing import publish_event
from chuishao.common.settings import ServiceSettings
from support.brokers import broker_for
from support.factories import submitted
from support.jetstream import dead_letters, policy_spec, settled, until
from support.servers import Servers

SPEC = policy_spec("test-policy")
pytestmark = pytest.mark.usefixtures("clean")


@pytest.fixture
async def broker_under_test(
    servers: Servers, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[NatsBroker, Counter[str]]]:
    broker = await broker_for(SPEC, servers, js, monkeypatch)
    deliveries: Counter[str] = Counter()

    @durable_subscriber(broker, SPEC)
    async def handle(event: TicketSubmitted) -> None:
        deliveries[event.description] += 1
        if event.description == "flaky" and deliveries["flaky"] < 3:
            raise ConnectionError("redis went away")
        if event.description == "broken":
            raise RuntimeError("always fails")

    await broker.start()
    yield broker, deliveries
    await broker.stop()


def event_with(description: str) -> TicketSubmitted:
    return submitted().model_copy(update={"description": description})


async def test_a_transient_failure_is_retried_until_it_succeeds(
    js: JetStreamContext, broker_under_test: tuple[NatsBroker, Counter[str]]
) -> None:
    _, deliveries = broker_under_test
    await publish_event(js, event_with("flaky"))
    await until(lambda: deliveries["flaky"] == 3)
    await asyncio.sleep(0.3)
    assert deliveries["flaky"] == 3
    await settled(js, SPEC.name)
    assert deliveries["flaky"] == 3


async def test_a_failure_that_never_clears_is_dead_lettered_with_the_reason(
    js: JetStreamContext, broker_under_test: tuple[NatsBroker, Counter[str]]
) -> None:
    _, deliveries = broker_under_test
    await publish_event(js, event_with("broken"))
    [letter] = await dead_letters(js, SPEC.name, 1)
    assert deliveries["broken"] == SPEC.max_deliver
    headers = letter.headers  # type: ignore[attr-defined]
    assert headers[REASON_HEADER] == "retries_exhausted"
    assert "always fails" in headers[ERROR_HEADER]
    assert headers[DELIVERIES_HEADER] == str(SPEC.max_deliver)
    assert TicketSubmitted.model_validate_json(letter.data).description == "broken"  # type: ignore[attr-defined]


async def test_poison_goes_to_the_dead_letters_at_once(
    js: JetStreamContext, broker_under_test: tuple[NatsBroker, Counter[str]]
) -> None:
    _, deliveries = broker_under_test
    await js.publish("ticket.submitted.T1", b"{not json")
    await js.publish("ticket.submitted.T2", b'{"type": "TicketSubmitted", "schema_version": 9}')
    letters = await dead_letters(js, SPEC.name, 2)
    assert [m.headers[REASON_HEADER] for m in letters] == ["unprocessable"] * 2  # type: ignore[attr-defined]
    assert [m.headers[DELIVERIES_HEADER] for m in letters] == ["1", "1"]  # type: ignore[attr-defined]
    assert sum(deliveries.values()) == 0
    await settled(js, SPEC.name)


async def test_one_tickets_events_are_handled_in_stream_order(
    servers: Servers, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = streams.ConsumerSpec("test-order", "TICKETS", ("ticket.submitted.*",))
    monkeypatch.setitem(streams.CONSUMERS, spec.name, spec)
    await streams.provision(js, (spec,))
    broker = make_broker(ServiceSettings(nats_url=servers.nats_url), configure_logging("test"))
    finished: list[str] = []

    @durable_subscriber(broker, spec)
    async def handle(event: TicketSubmitted) -> None:
        # The first event of ticket A is slow; without ordering, A's second would overtake.
        await asyncio.sleep(0.3 if event.description == "A1" else 0.01)
        finished.append(event.description)

    for ticket_id, description in (("TA", "A1"), ("TA", "A2"), ("TB", "B1")):
        await publish_event(
            js, submitted(ticket_id=ticket_id).model_copy(update={"description": description})
        )
    await broker.start()
    await until(lambda: len(finished) == 3)
    await broker.stop()
    # A1 is slow: handled concurrently in one batch, A2 would finish first without the
    # per-ticket order (whether B1 overtakes depends on how the batch was fetched).
    assert finished.index("A1") < finished.index("A2")


async def test_a_dead_letter_outage_longer_than_the_tries_drops_nothing(
    js: JetStreamContext,
    broker_under_test: tuple[NatsBroker, Counter[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the dead-letter stream is away for longer than `max_deliver` tries, a poison
    message is held, not nacked (each nak spends a delivery, and JetStream gives up on a
    message whose deliveries are spent): once the stream is back it is dead-lettered."""
    monkeypatch.setattr(delivery, "DEAD_LETTER_RETRY_SECONDS", 0.2)
    await js.delete_stream("DEADLETTER")
    await js.publish("ticket.submitted.T1", b"{not json")
    await asyncio.sleep(2.0)  # ten tries at the most 0.2 s apart: more than max_deliver (3)
    await streams.declare_streams(js)
    [letter] = await dead_letters(js, SPEC.name, 1)
    assert letter.headers[REASON_HEADER] == "unprocessable"  # type: ignore[attr-defined]
    assert letter.headers[DELIVERIES_HEADER] == "1"  # type: ignore[attr-defined]
    await settled(js, SPEC.name)
