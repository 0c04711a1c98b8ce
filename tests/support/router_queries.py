"""Asking the router's request/reply queries (internal.router.*) from a test."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.errors import NoRespondersError

from chuishao.common.clock import ManualClock
from chuishao.router.directory_watch import DirectoryWatch
from chuishao.router.plugins_manager import plugin_manager
from chuishao.router.settings import RouterSettings
from chuishao.router.snapshot import Snapshot


async def until_answered(nats_url: str, subject: str, timeout: float = 10.0) -> None:
    """Until a responder's subscription has reached the server (a broker's start does not
    wait for that): a request on `subject` answered, within a bounded time."""
    probe = await nats.connect(nats_url)
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            try:
                await probe.request(subject, b"{}", timeout=1)
                return
            except NoRespondersError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.02)
    finally:
        await probe.close()


@contextlib.asynccontextmanager
async def router_responder(
    nats_url: str,
    subject: str,
    register: Callable[[NatsBroker, Callable[[], Snapshot]], None],
    before_start: Callable[[DirectoryWatch], Awaitable[None]],
) -> AsyncIterator[DirectoryWatch]:
    """One of the router's responders, as its bootstrap registers it, on a broker of its own
    (the whole router is not needed to answer a question), answering on `subject`;
    `before_start` publishes what the test needs beside it before the broker starts."""
    broker = NatsBroker(nats_url)
    watch = DirectoryWatch(RouterSettings(), plugin_manager(), ManualClock(), broker)
    register(broker, watch.current)
    await before_start(watch)
    await broker.start()
    await until_answered(nats_url, subject)
    try:
        yield watch
    finally:
        await broker.stop()


async def ask(nc: Client, subject: str, body: bytes) -> dict[str, Any]:
    reply = await nc.request(subject, body, timeout=5)
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


def assert_refused(answer: dict[str, Any], field: str | None) -> None:
    """The one error shape of a bad request (chuishao.common.errors.invalid_request)."""
    assert answer["ok"] is False
    assert answer["error"]["code"] == "invalid"
    assert answer["error"]["message_zh"]
    assert answer["error"]["field"] == field
