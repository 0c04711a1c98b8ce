"""Story 3, the thin path through all four services as separate processes: a resident
reports a broken fire box from the mini-program; the community grid station receives it
on its own subject; the ticket shows assigned, with its 48-hour deadline."""

import asyncio
from datetime import datetime, timedelta

import httpx
import nats
import pytest

from chuishao.common import subjects
from chuishao.common.events import TicketDispatched
from support.intake import OPERATOR, STORY_3
from support.servers import Servers
from support.stack import ServiceProcesses, post_report_when_ready

pytestmark = pytest.mark.e2e


async def until_ticket(client: httpx.AsyncClient, ticket_id: str, test: object) -> dict:  # type: ignore[type-arg]
    for _ in range(200):
        ticket = (await client.get(f"/api/v1/tickets/{ticket_id}", headers=OPERATOR)).json()
        if test(ticket):  # type: ignore[operator]
            return ticket  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"ticket never reached the expected state: {ticket}")


async def test_story_3_reaches_the_community_unit_with_a_48_hour_deadline(
    own_servers: Servers, stack: ServiceProcesses
) -> None:
    unit = await nats.connect(own_servers.nats_url)
    inbox = await unit.jetstream().subscribe(subjects.unit_inbox("grid-heyuan"), stream="UNITS")
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        response = await post_report_when_ready(client, STORY_3)
        assert response.status_code == 201, response.text
        ticket_id = response.json()["ticket_id"]

        delivered = await inbox.next_msg(timeout=15)
        dispatch = TicketDispatched.model_validate_json(delivered.data)
        assert delivered.subject == f"dept.grid-heyuan.dispatched.{ticket_id}"
        assert dispatch.ticket_id == ticket_id
        assert dispatch.unit_id == "grid-heyuan"
        assert dispatch.description == STORY_3["description"]
        assert "13912345678" not in delivered.data.decode()
        await delivered.ack()

        ticket = await until_ticket(
            client, ticket_id, lambda t: t["deadline"] and t["assignments"][0]["notified_at"]
        )
    await unit.close()

    assert ticket["status"] == "dispatched"
    assert ticket["lead_unit"] == "grid-heyuan"
    dispatched_at = datetime.fromisoformat(ticket["assignments"][0]["dispatched_at"])
    assert datetime.fromisoformat(ticket["deadline"]) - dispatched_at == timedelta(hours=48)
    assert [entry["type"] for entry in ticket["history"]][:2] == [
        "TicketSubmitted",
        "TicketDispatched",
    ]
    assert {entry["type"] for entry in ticket["history"]} >= {"SlaClockArmed", "UnitNotified"}
    for name in ("intake", "router", "sla", "notify"):
        assert "13912345678" not in stack.log(name)
        assert "李女士" not in stack.log(name)
