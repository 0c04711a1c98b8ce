"""Growing past one machine, on real nats-server processes: a three-node cluster with
the streams at three replicas (R3) keeps accepting and delivering tickets while a node
is down, and loses none that it acknowledged."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.errors import NoServersError

from chuishao.common.streams import ROUTER, provision
from chuishao.embedded import NatsServer, free_port
from support.servers import all_started

NODES = 3


def cluster_block(name: str, own: int, routes: list[int]) -> str:
    peers = ", ".join(f'"nats-route://127.0.0.1:{port}"' for port in routes if port != own)
    return f'cluster {{ name: "{name}", listen: "127.0.0.1:{own}", routes: [{peers}] }}\n'


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    routes = [free_port() for _ in range(NODES)]
    nodes = [
        NatsServer(
            free_port(),
            tmp_path / f"n{index}",
            sync_interval="2m",
            server_name=f"n{index}",
            extra_config=cluster_block("chuishao", routes[index], routes),
        )
        for index in range(NODES)
    ]
    with all_started(nodes):
        yield nodes


async def connect(nodes: list[NatsServer]) -> Client:
    servers = [node.url for node in nodes]
    for _ in range(100):  # until the cluster has a JetStream meta leader
        try:
            client = await nats.connect(servers=servers, connect_timeout=2)
            await client.jetstream().account_info()
        except (NoServersError, nats.js.errors.Error, nats.errors.TimeoutError):
            await asyncio.sleep(0.2)
            continue
        return client
    raise TimeoutError("the cluster never elected a JetStream leader")


async def publish_all(client: Client, start: int, count: int) -> set[str]:
    js = client.jetstream()
    acknowledged = set()
    for n in range(start, start + count):
        ticket = f"T{n:06d}"
        for _ in range(50):  # through a leader election, the same Nats-Msg-Id each time
            try:
                await js.publish(
                    f"ticket.submitted.{ticket}", b"{}", headers={"Nats-Msg-Id": ticket}, timeout=2
                )
            except (nats.errors.TimeoutError, nats.js.errors.Error):
                await asyncio.sleep(0.2)
                continue
            acknowledged.add(ticket)
            break
    return acknowledged


async def test_r3_streams_keep_every_acknowledged_ticket_through_a_lost_node(
    cluster: list[NatsServer],
) -> None:
    client = await connect(cluster)
    js = client.jetstream()
    for _ in range(100):  # until all three nodes have joined JetStream's meta group
        try:
            await provision(js, (ROUTER,), replicas=3)
        except nats.js.errors.BadRequestError:  # "no suitable peers for placement"
            await asyncio.sleep(0.2)
            continue
        break
    info = await js.stream_info("TICKETS")
    assert info.config.num_replicas == 3
    assert info.cluster is not None
    assert len(info.cluster.replicas or []) == 2

    before = await publish_all(client, 0, 200)
    # Stop the stream's leader: the cluster elects another and carries on.
    leader = next(node for node in cluster if node.server_name == info.cluster.leader)
    leader.stop()
    after = await publish_all(client, 200, 200)
    assert len(before) == len(after) == 200

    consumer = await js.pull_subscribe_bind(ROUTER.name, stream="TICKETS")
    seen: set[str] = set()
    while len(seen) < 400:
        for message in await consumer.fetch(100, timeout=10):
            seen.add(message.subject.rsplit(".", 1)[1])
            await message.ack()
    assert seen == before | after
    state = (await js.stream_info("TICKETS")).state
    assert state.messages == 400
    await client.close()
