"""The shipped NATS users: unit A cannot read unit B's subjects or send B's commands, on
a real nats-server with the generated authorization block."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig

from chuishao.common.streams import provision
from chuishao.devstack.nats_auth import (
    SERVICES_USER,
    authorization_block,
    new_passwords,
    unit_inbox_prefix,
    unit_user,
)
from chuishao.embedded import NatsServer, free_port

UNITS = ["grid-a", "police-b"]


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[NatsServer, dict[str, str]]]:
    passwords = new_passwords(UNITS)
    server = NatsServer(
        free_port(),
        Path(tmp_path_factory.mktemp("secured")),
        sync_interval="2m",
        extra_config=authorization_block(UNITS, passwords),
    )
    with server:
        yield server, passwords


async def connect(
    server: NatsServer, passwords: dict[str, str], unit: str | None, errors: list[str]
) -> Client:
    async def record(error: Exception) -> None:
        errors.append(str(error))

    if unit is None:
        return await nats.connect(
            server.url, user=SERVICES_USER, password=passwords[SERVICES_USER], error_cb=record
        )
    return await nats.connect(
        server.url,
        user=unit_user(unit),
        password=passwords[unit_user(unit)],
        inbox_prefix=unit_inbox_prefix(unit),
        error_cb=record,
    )


async def delivered(publisher: Client, subscription: Subscription, subject: str) -> bool:
    """Whether a message on `subject` reaches `subscription` within about two seconds.

    Core NATS is at most once: even after a flush, the first publish on a fresh
    connection is now and then dropped (about 3 in 100 here, with or without
    permissions), so one try cannot tell "not allowed" from "dropped"."""
    for attempt in range(10):
        await publisher.publish(subject, f"try {attempt}".encode())
        await publisher.flush()
        try:
            await subscription.next_msg(timeout=0.2)
        except nats.errors.TimeoutError:
            continue
        return True
    return False


async def test_a_unit_reads_only_its_own_subjects(
    secured: tuple[NatsServer, dict[str, str]],
) -> None:
    server, passwords = secured
    errors: list[str] = []
    services = await connect(server, passwords, None, errors)
    unit_a = await connect(server, passwords, "grid-a", errors)
    own = await unit_a.subscribe("dept.grid-a.>")
    await unit_a.flush()
    assert await delivered(services, own, "dept.grid-a.dispatched.T1"), errors
    # The refused subscription comes last: the server's error may make the client
    # reconnect, and a message published meanwhile would be missed by `own` too.
    foreign = await unit_a.subscribe("dept.police-b.>")
    await unit_a.flush()
    assert not await delivered(services, foreign, "dept.police-b.dispatched.T1")
    assert 'nats: permissions violation for subscription to "dept.police-b.>"' in errors
    await unit_a.close()
    await services.close()


async def test_a_unit_sends_only_its_own_commands(
    secured: tuple[NatsServer, dict[str, str]],
) -> None:
    server, passwords = secured
    errors: list[str] = []
    services = await connect(server, passwords, None, errors)
    foreign = await services.subscribe("cmd.unit.police-b.>")
    own = await services.subscribe("cmd.unit.grid-a.>")
    await services.flush()
    unit_a = await connect(server, passwords, "grid-a", errors)
    assert not await delivered(unit_a, foreign, "cmd.unit.police-b.acknowledge")
    assert await delivered(unit_a, own, "cmd.unit.grid-a.acknowledge"), errors
    assert 'nats: permissions violation for publish to "cmd.unit.police-b.acknowledge"' in errors
    await unit_a.close()
    await services.close()


async def test_a_unit_consumes_its_own_durable_feed_and_no_other(
    secured: tuple[NatsServer, dict[str, str]],
) -> None:
    server, passwords = secured
    errors: list[str] = []
    services = await connect(server, passwords, None, errors)
    await provision(services.jetstream())
    await services.jetstream().publish("dept.grid-a.dispatched.T9", b"durable for a")
    unit_a = await connect(server, passwords, "grid-a", errors)
    js = unit_a.jetstream()
    consumer = unit_user("grid-a")
    await js.add_consumer(
        "UNITS",
        ConsumerConfig(
            name=consumer,
            durable_name=consumer,
            filter_subject="dept.grid-a.>",
        ),
    )
    feed = await js.pull_subscribe_bind(consumer, stream="UNITS")
    [message] = await feed.fetch(1, timeout=2)
    assert message.data == b"durable for a"
    await message.ack()
    with pytest.raises((nats.js.errors.Error, nats.errors.TimeoutError, asyncio.TimeoutError)):
        await js.add_consumer(
            "UNITS",
            ConsumerConfig(
                name=consumer,
                durable_name=consumer,
                filter_subject="dept.police-b.>",
            ),
            timeout=1,
        )
    await unit_a.close()
    await services.close()
