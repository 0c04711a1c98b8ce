"""The router among the four services as processes: story 4's coordination whistle
reaches every unit on its own subject, and a hotline note without a category is triaged
and dispatched."""

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
from chuishao.router.triage_model import default_model
from support.servers import Servers
from support.stack import ServiceProcesses, post_report_when_ready, recorded_once_sent

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
    response = await post_report_when_ready(client, report)
    assert response.status_code == 201, response.text
    return str(response.json()["ticket_id"])


async def inbox(nc: Client, unit_id: str) -> JetStreamContext.PushSubscription:
    return await nc.jetstream().subscribe(subjects.unit_inbox(unit_id), stream="UNITS")


async def dispatched_to(
    servers: Servers, stack: ServiceProcesses, unit_id: str, report: dict[str, Any]
) -> tuple[Client, str, TicketDispatched]:
    """`report` filed, and the TicketDispatched it sends `unit_id`: (the connection the
    unit listened on, for the caller to use and close; the ticket's id; the dispatch)."""
    nc = await nats.connect(servers.nats_url)
    unit_inbox = await inbox(nc, unit_id)
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        ticket_id = await submit(client, report)
    delivered = await unit_inbox.next_msg(timeout=15)
    return nc, ticket_id, TicketDispatched.model_validate_json(delivered.data)


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
    nc, ticket_id, dispatch = await dispatched_to(own_servers, stack, "grid-binhe", HOTLINE_NOTE)
    assert (dispatch.ticket_id, dispatch.category) == (ticket_id, "water_leak")
    try:
        message = await nc.jetstream().get_last_msg("TICKETS", f"ticket.triaged.{ticket_id}")
    except NotFoundError as error:
        raise AssertionError("no TicketTriaged event") from error
    triaged = TicketTriaged.model_validate_json(message.data or b"")
    assert triaged.accepted
    # The trained model's version (data/triage-model.json) is the triage method.
    model = default_model()
    assert model is not None
    assert json.loads(message.data or b"")["method"] == model.version
    await nc.close()


VILLAGE_ROAD = {
    "category": "road_damage",
    "description": "村里的路被拉土的大货车压坏了",
    "location": {"grid_code": "DG-01", "address": "东沟村村道"},
    "channel": "hotline_12345",
}
NEW_CATEGORIES = {
    "gas_supply", "water_supply", "power_outage", "drainage", "river_pollution",
    "construction_noise", "air_pollution", "garbage_sanitation", "public_toilet",
    "greening_trees", "stray_animals", "illegal_vendors", "outdoor_ads", "illegal_construction",
    "group_rental", "elevator", "market_consumer", "food_safety", "education", "medical_service",
    "social_security", "household_registration", "bus_service", "taxi_ride_hailing",
    "traffic_signals",
}  # fmt: skip


async def test_open311_lists_and_defines_every_new_category(
    own_servers: Servers, stack: ServiceProcesses
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        await submit(client, HOTLINE_NOTE)  # waits until intake has the router's catalogue
        services = (await client.get("/open311/v2/services.json")).json()
        by_code = {service["service_code"]: service for service in services}
        assert len(by_code) >= 42
        assert set(by_code) >= NEW_CATEGORIES
        assert by_code["gas_supply"]["service_name"] == "燃气供应"
        assert by_code["gas_supply"]["group"] == "utilities"
        for code in sorted(NEW_CATEGORIES):
            definition = await client.get(f"/open311/v2/services/{code}.json")
            assert definition.status_code == 200, code
            assert definition.json()["service_code"] == code
        elevator = (await client.get("/open311/v2/services/elevator.json")).json()
        assert [a["code"] for a in elevator["attributes"]] == ["lift", "stopped"]


async def test_a_village_road_reaches_the_village_committee(
    own_servers: Servers, stack: ServiceProcesses
) -> None:
    nc, ticket_id, dispatch = await dispatched_to(own_servers, stack, "cwh-donggou", VILLAGE_ROAD)
    assert (dispatch.ticket_id, dispatch.role, dispatch.level) == (ticket_id, "lead", "community")
    assert dispatch.street == "qingshan"
    await nc.close()


LIFE_AT_RISK = {
    "description": "市民来电：电梯里有人被困，老人晕倒了",
    "location": {"grid_code": "HY-02"},
    "channel": "hotline_12345",
    "reporter": {"phone": "13912345678"},
}


async def test_a_life_at_risk_tells_the_resident_whom_to_ring_at_once(
    own_servers: Servers, stack: ServiceProcesses
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        ticket_id = await submit(client, LIFE_AT_RISK)
    [message] = await recorded_once_sent(own_servers.redis_url, ticket_id, "call_now")
    assert "请立即拨打119、120" in message.text
    assert f"工单编号：{ticket_id}" in message.text
