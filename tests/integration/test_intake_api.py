"""Intake's native HTTP API in-process, on real nats-server and redis-server."""

from typing import Any

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.events import TicketSubmitted
from support.intake import OPERATOR, Harness, auth

REPORT = {
    "category": "fire_box",
    "description": "A-160车位旁消防箱玻璃碎了",
    "location": {"lat": 39.9, "long": 116.4, "address": "和园小区A-160"},
    "channel": "snap_it",
    "reporter": {"name": "张三", "phone": "13800138000"},
}


async def stored_tickets(redis: Redis) -> list[bytes]:
    return [key async for key in redis.scan_iter("ticket:T*")]


async def events_in_stream(js: JetStreamContext) -> int:
    return (await js.stream_info("TICKETS")).state.messages


async def test_a_report_is_stored_published_and_readable(
    intake: Harness, js: JetStreamContext
) -> None:
    response = await intake.http.post("/api/v1/reports", json=REPORT)
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

    ticket = await intake.ticket(body["ticket_id"])
    assert ticket["status"] == "submitted"
    assert ticket["history"][0]["type"] == "TicketSubmitted"
    assert "reporter" not in ticket
    assert "13800138000" not in str(ticket)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"description": "长" * 4001}, ["body", "description"]),
        ({"location": {"lat": 200, "long": 116.4}}, ["body", "location", "lat"]),
        ({"category": "no_such_thing"}, ["body", "category"]),
        ({"reporter": {"phone": "call me"}}, ["body", "reporter", "phone"]),
        ({"media_urls": ["ftp//broken"]}, ["body", "media_urls", 0]),
        ({"category": "parking"}, ["body", "attributes", "vehicle"]),
        (
            {"category": "parking", "attributes": {"vehicle": "tank"}},
            ["body", "attributes", "vehicle"],
        ),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(
    intake: Harness,
    js: JetStreamContext,
    redis: Redis,
    change: dict[str, object],
    field: list[object],
) -> None:
    before = await events_in_stream(js)
    response = await intake.http.post("/api/v1/reports", json=REPORT | change)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == ".".join(str(part) for part in field[1:])
    assert error["code"] in ("invalid", "unknown_category", "invalid_attribute")
    assert error["message_zh"]
    assert error["message_en"]
    assert await stored_tickets(redis) == []
    assert await events_in_stream(js) == before


async def test_a_report_with_a_valid_attribute_is_accepted(intake: Harness) -> None:
    ticket_id = await intake.submit(category="parking", attributes={"vehicle": "ebike"})
    assert (await intake.ticket(ticket_id))["category"] == "parking"


async def test_malformed_json_is_a_4xx(intake: Harness, redis: Redis) -> None:
    response = await intake.http.post(
        "/api/v1/reports", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert await stored_tickets(redis) == []


async def test_a_retried_submit_with_the_same_key_returns_the_same_ticket(
    intake: Harness, js: JetStreamContext
) -> None:
    headers = {"Idempotency-Key": "cti-call-778812"}
    first = await intake.http.post("/api/v1/reports", json=REPORT, headers=headers)
    again = await intake.http.post("/api/v1/reports", json=REPORT, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["ticket_id"] == again.json()["ticket_id"]
    assert await events_in_stream(js) == 1


async def test_reading_needs_a_key_and_units_read_only_their_own(intake: Harness) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, "grid-heyuan")
    path = f"/api/v1/tickets/{ticket_id}"
    assert (await intake.http.get(path)).status_code == 401
    assert (await intake.http.get(path, headers={"X-API-Key": "guess"})).status_code == 403
    assert (await intake.http.get(path, headers=auth("grid-heyuan"))).status_code == 200
    # Not its ticket: answered as if there were no such ticket (tests/integration/test_scopes.py).
    other = await intake.http.get(path, headers=auth("bus-yunxi"))
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"
    assert (await intake.http.get(path, headers=OPERATOR)).status_code == 200


async def test_an_unknown_ticket_is_404(intake: Harness) -> None:
    response = await intake.http.get("/api/v1/tickets/T19990101000001", headers=OPERATOR)
    assert response.status_code == 404


async def test_search_filters_and_pages_with_a_cursor(intake: Harness) -> None:
    ids = [await intake.submit() for _ in range(5)]
    hotline = await intake.submit(channel="hotline_12345", category="bus_obstruction")
    await intake.dispatch(ids[0], "grid-heyuan")
    await intake.dispatch(hotline, "bus-yunxi")

    async def search(**params: Any) -> dict[str, Any]:
        response = await intake.http.get("/api/v1/tickets", params=params, headers=OPERATOR)
        assert response.status_code == 200, response.text
        return dict(response.json())

    page = await search(limit=4)
    assert len(page["items"]) == 4
    rest = await search(limit=4, cursor=page["next_cursor"])
    assert rest["next_cursor"] is None
    seen = [t["ticket_id"] for t in page["items"] + rest["items"]]
    assert sorted(seen) == sorted([*ids, hotline])
    assert seen == sorted(seen, reverse=True)  # newest first

    assert [t["ticket_id"] for t in (await search(channel="hotline_12345"))["items"]] == [hotline]
    assert [t["ticket_id"] for t in (await search(unit="grid-heyuan"))["items"]] == [ids[0]]
    assert [t["ticket_id"] for t in (await search(category="bus_obstruction"))["items"]] == [
        hotline
    ]
    assert len((await search(status="submitted"))["items"]) == 4
    assert len((await search(street="qingshi"))["items"]) == 2
    assert (await search(since="2099-01-01T00:00:00Z"))["items"] == []
    combined = await search(channel="hotline_12345", since="2000-01-01T00:00:00Z")
    assert [t["ticket_id"] for t in combined["items"]] == [hotline]

    mine = await intake.http.get("/api/v1/tickets", headers=auth("grid-heyuan"))
    assert [t["ticket_id"] for t in mine.json()["items"]] == [ids[0]]
    nosy = await intake.http.get(
        "/api/v1/tickets", params={"unit": "bus-yunxi"}, headers=auth("grid-heyuan")
    )
    assert nosy.status_code == 403
    bad = await intake.http.get("/api/v1/tickets", params={"cursor": "!!"}, headers=OPERATOR)
    assert bad.status_code == 400


async def test_the_overdue_filter_finds_tickets_past_their_deadline(
    intake: Harness, js: JetStreamContext
) -> None:
    from datetime import UTC, datetime, timedelta

    from chuishao.common.domain import ClockKind, Level
    from chuishao.common.events import SlaClockArmed

    late, on_time = await intake.submit(), await intake.submit()
    for ticket_id, deadline in (
        (late, datetime.now(UTC) - timedelta(hours=1)),
        (on_time, datetime.now(UTC) + timedelta(hours=47)),
    ):
        await intake.dispatch(ticket_id, "grid-heyuan")
        await intake.play(
            SlaClockArmed,
            ticket_id,
            "sla",
            lambda t: t["deadline"] is not None,
            clock=ClockKind.RESOLUTION,
            level=Level.COMMUNITY,
            limit_seconds=48 * 3600,
            deadline=deadline,
        )
    response = await intake.http.get(
        "/api/v1/tickets", params={"overdue": "true"}, headers=OPERATOR
    )
    assert [t["ticket_id"] for t in response.json()["items"]] == [late]
