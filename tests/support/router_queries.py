"""Asking the router's request/reply queries (internal.router.*) from a test."""

import asyncio
import json
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import NoRespondersError


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
