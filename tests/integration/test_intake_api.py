"""Intake's HTTP API in-process, on real nats-server and redis-server."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.catalogue import publish_catalogue
from chuishao.common.events import TicketSubmitted
from chuishao.common.streams import provision
from chuishao.intake.app import create_app
from chuishao.intake.settings import IntakeSettings
from chuishao.router.directory import Directory
from chuishao.router.plugins_manager import Dispatcher, plugin_manager
from chuishao.router.settings import RouterSettings
from support.servers import Servers

pytestmark = pytest.mark.usefixtures("clean")

REPORT = {
    "category": "fire_box",
    "description": "A-160车位旁消防箱玻璃碎了",
    "location": {"lat": 39.9, "long": 116.4, "address": "和园小区A-160"},
    "channel": "snap_it",
    "reporter": {"name": "张三", "phone": "13800138000"},
}


@pytest.fixture
async def api(servers: Servers, js: JetStreamContext) -> AsyncIterator[httpx.AsyncClient]:
    await provision(js)
    directory = Directory.load(RouterSettings().directory_file)
    await publish_catalogue(js, Dispatcher(plugin_manager(), directory).categories())
    app: FastAPI = create_app(
        IntakeSettings(nats_url=servers.nats_url, redis_url=servers.redis_url)
    )
    async with app.router.lifespan_context(app):
        await app.state.intake.catalogue.loaded.wait()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client


async def stored_tickets(redis: Redis) -> list[bytes]:
    return [key async for key in redis.scan_iter("ticket:T*")]


async def submitted_events(js: JetStreamContext) -> int:
    return (await js.stream_info("TICKETS")).state.messages


async def test_a_report_is_stored_published_and_readable(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    response = await api.post("/api/v1/reports", json=REPORT)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "submitted"
    assert response.headers["Location"].endswith(f"/api/v1/tickets/{body['ticket_id']}")

    message = await js.get_last_msg("TICKETS", f"ticket.submitted.{body['ticket_id']}")
    event = TicketSubmitted.model_validate_json(message.data or b"")
    assert event.category == "fire_box"
    assert event.reporter_ref is not None
    assert "13800138000" not in (message.data or b"").decode()
    assert "张三" not in (message.data or b"").decode()
    assert message.headers is not None
    assert message.headers["Nats-Msg-Id"] == event.event_id

    ticket = (await api.get(f"/api/v1/tickets/{body['ticket_id']}")).json()
    assert ticket["status"] == "submitted"
    assert ticket["history"][0]["type"] == "TicketSubmitted"
    assert "reporter" not in ticket


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"description": "长" * 4001}, ["body", "description"]),
        ({"location": {"lat": 200, "long": 116.4}}, ["body", "location", "lat"]),
        ({"category": "no_such_thing"}, ["body", "category"]),
        ({"reporter": {"phone": "call me"}}, ["body", "reporter", "phone"]),
        ({"media_urls": ["ftp//broken"]}, ["body", "media_urls", 0]),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(
    api: httpx.AsyncClient,
    js: JetStreamContext,
    redis: Redis,
    change: dict[str, object],
    field: list[object],
) -> None:
    before = await submitted_events(js)
    response = await api.post("/api/v1/reports", json=REPORT | change)
    assert response.status_code == 422
    assert field in [error["loc"] for error in response.json()["detail"]]
    assert await stored_tickets(redis) == []
    assert await submitted_events(js) == before


async def test_malformed_json_is_a_4xx(api: httpx.AsyncClient, redis: Redis) -> None:
    response = await api.post(
        "/api/v1/reports", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert await stored_tickets(redis) == []


async def test_a_retried_submit_with_the_same_key_returns_the_same_ticket(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    headers = {"Idempotency-Key": "cti-call-778812"}
    first = await api.post("/api/v1/reports", json=REPORT, headers=headers)
    again = await api.post("/api/v1/reports", json=REPORT, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["ticket_id"] == again.json()["ticket_id"]
    assert await submitted_events(js) == 1


async def test_an_unknown_ticket_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/v1/tickets/T19990101000001")).status_code == 404
