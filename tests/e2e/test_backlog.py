"""Overload by absence: while the router is down, reports keep being accepted, memory
stays bounded (the backlog waits on disk in JetStream, pull consumers take at most
max_ack_pending at a time), and the backlog drains when the router returns."""

import asyncio
import json

import nats
import psutil
import pytest
from nats.aio.msg import Msg

from support.servers import Servers
from support.stack import ServiceProcesses

pytestmark = pytest.mark.e2e
BACKLOG = 400
REPORT = {
    "category": "fire_box",
    "description": "消防箱玻璃碎了" * 20,
    "channel": "hotline_12345",
    "location": {"grid_code": "HY-01", "address": "和园小区"},
}


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


async def test_a_backlog_waits_bounded_and_drains(
    own_servers: Servers, stack: ServiceProcesses
) -> None:
    connection = await nats.connect(own_servers.nats_url)
    dispatched: set[str] = set()

    async def seen(msg: Msg) -> None:
        dispatched.add(msg.subject.rsplit(".", 1)[1])

    await connection.subscribe("dept.*.dispatched.*", cb=seen)
    stack.stop_one("router")
    before = {name: rss_mb(stack.pid(name)) for name in ("intake", "notify", "sla")}

    window = asyncio.Semaphore(32)

    async def submit(index: int) -> str:
        async with window:
            reply = await connection.request(
                "cmd.submit",
                json.dumps(REPORT).encode(),
                timeout=30,
                headers={"Idempotency-Key": f"b{index}"},
            )
            return str(json.loads(reply.data)["ticket_id"])

    accepted = set(await asyncio.gather(*(submit(n) for n in range(BACKLOG))))
    assert len(accepted) == BACKLOG
    await asyncio.sleep(1)
    assert not dispatched & accepted  # nobody routes while the router is away
    consumer = await connection.jetstream().consumer_info("TICKETS", "router")
    assert consumer.num_pending >= BACKLOG  # the backlog waits in the stream, on disk
    after = {name: rss_mb(stack.pid(name)) for name in before}
    growth = {name: after[name] - before[name] for name in before}
    assert all(mb < 40 for mb in growth.values()), growth

    stack.start_one("router")
    for _ in range(600):
        if accepted <= dispatched:
            break
        await asyncio.sleep(0.1)
    await connection.close()
    assert accepted <= dispatched, f"{len(accepted - dispatched)} never dispatched"
    print(f"\nbacklog {BACKLOG}: RSS growth while the router was down {growth} MB")
