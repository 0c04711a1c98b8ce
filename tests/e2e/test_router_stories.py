"""The router among the four services as processes: story 4's coordination whistle
reaches every unit on its own subject, and a hotline note without a category is triaged
and dispatched."""

import asyncio
import json
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from chuishao.common import subjects
from chuishao.common.events import TicketDispatched, TicketTriaged
from support.servers import Servers
from support.stack import ServiceProcesses

pytestmark = pytest.mark.e2e

STORY_4 = {
    "category": "traffic_obstruction",
    "description": "一排公交车排队等加气，把桃源路整条路都堵死了",
    "location": {"grid_code": "TY-01", "address": "桃源加气站门口"},
    "channel": "grid_worker",
}
HOTLINE_NOTE = {
    "description": "市民来电：楼上卫生间漏水，我家天花板和墙面都发霉了",
    "location": {"address": "滨河花园3号楼501"},
    "channel": "hotline_12345",
}


async def submit(client: httpx.AsyncClient, report: dict[str, Any]) -> str:
    for _ in range(100):
        response = await client.post("/api/v1/reports", json=report)
        if response.status_code != 503:  # 503 until intake has the router's catalogue
            assert response.status_code == 201, response.text
            return str(response.json()["ticket_id"])
        await asyncio.sleep(0.1)
    raise AssertionError("catalogue never loaded")


async def inbox(nc: Client, unit_id: str) -> JetStreamContext.PushSubscription:
    return await nc.jetstream().subscribe(subjects.unit_inbox(unit_id), stream="UNITS")


async def test_story_4_every_summoned_unit_gets_it_on_its_own_subject(
    own_servers: Servers, stack: ServiceProcesses
) -> None:
    units = ("jiaojing-yunxi", "bus-yunxi", "jinhua-wuye", "grid-taoyuan")
    nc = await nats.connect(own_servers.nats_url)
    inboxes = {unit: await inbox(nc, unit) for unit in units}
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        ticket_id = await submit(client, STORY_4)
    for unit, subscription in inboxes.items():
        delivered = await subscription.next_msg(timeout=15)
        dispatch = TicketDispatched.model_validate_json(delivered.data)
        assert delivered.subject == f"dept.{unit}.dispatched.{ticket_id}"
        assert (dispatch.unit_id, dispatch.whistle) == (unit, "coordination")
    await nc.close()


async def test_a_hotline_note_without_a_category_is_triaged_and_dispatched(
    own_servers: Servers, stack: ServiceProcesses
) -> None:
    nc = await nats.connect(own_servers.nats_url)
    grid = await inbox(nc, "grid-binhe")
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        ticket_id = await submit(client, HOTLINE_NOTE)
    delivered = await grid.next_msg(timeout=15)
    dispatch = TicketDispatched.model_validate_json(delivered.data)
    assert (dispatch.ticket_id, dispatch.category) == (ticket_id, "water_leak")
    try:
        message = await nc.jetstream().get_last_msg("TICKETS", f"ticket.triaged.{ticket_id}")
    except NotFoundError as error:
        raise AssertionError("no TicketTriaged event") from error
    triaged = TicketTriaged.model_validate_json(message.data or b"")
    assert triaged.accepted
    assert json.loads(message.data or b"")["method"] == "keywords-v1"
    await nc.close()
