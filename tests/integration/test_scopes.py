"""Who may know of which ticket, over HTTP on real servers: a unit its own tickets, a
street's command centre its street, a district its district, the city level all; for a
caller with no right to know, "not yours" answers exactly like "does not exist"."""

import asyncio
import json
from typing import Any

import httpx

from chuishao.common.domain import Level
from chuishao.common.events import TicketNeedsManualDispatch
from support.intake import OPERATOR, Harness, auth

GRID, BUS = "grid-heyuan", "bus-yunxi"
QINGSHI, LIUAN = "qingshi-command", "liuan-command"
DISTRICT, CITY = "district-yunxi", "city-12345"
XISHAN = "district-xishan"  # another district, streets ("xishan",)
NOBODYS = "T19990101000001"  # a well-formed id no ticket has


async def on_street(intake: Harness, street: str, unit: str = GRID) -> str:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, unit, street=street)
    return ticket_id


def anonymised(response: httpx.Response, ticket_id: str) -> tuple[int, Any]:
    """The answer with the asked-for id blanked: the caller typed it, so echoing it back
    tells nothing; everything else must be the same for a ticket and for no ticket."""
    return response.status_code, response.text.replace(ticket_id, "<id>")


async def read(intake: Harness, ticket_id: str, unit: str) -> httpx.Response:
    return await intake.http.get(f"/api/v1/tickets/{ticket_id}", headers=auth(unit))


async def found(intake: Harness, unit: str, **params: str) -> set[str]:
    response = await intake.http.get("/api/v1/tickets", headers=auth(unit), params=params)
    assert response.status_code == 200, response.text
    return {item["ticket_id"] for item in response.json()["items"]}


async def test_a_street_supervisor_cannot_read_or_change_another_streets_ticket(
    intake: Harness,
) -> None:
    theirs = await on_street(intake, "qingshi")
    before = await intake.ticket(theirs)

    assert (await read(intake, theirs, LIUAN)).status_code == 404
    recategorise = {"category": "parking", "priority": "urgent"}
    refused = await intake.command(theirs, "recategorise", auth(LIUAN), recategorise)
    assert refused.status_code == 404
    closed = await intake.command(theirs, "close", auth(LIUAN), {"reason": "withdrawn"})
    assert closed.status_code == 404
    decided = await intake.command(
        theirs, "extension-decisions", auth(LIUAN), {"unit_id": GRID, "approve": True}
    )
    assert decided.status_code == 404
    assert theirs not in await found(intake, LIUAN)
    assert theirs not in await found(intake, LIUAN, street="qingshi")
    after = await intake.ticket(theirs)
    assert (after["status"], after["category"], after["version"]) == (
        before["status"],
        before["category"],
        before["version"],
    )

    # Its own street's command centre may.
    assert (await read(intake, theirs, QINGSHI)).status_code == 200
    assert theirs in await found(intake, QINGSHI)
    mine = await intake.command(theirs, "recategorise", auth(QINGSHI), recategorise)
    assert mine.status_code == 200, mine.text
    assert mine.json()["category"] == "parking"


async def queue_for(intake: Harness, ticket_id: str, arbiter: str) -> None:
    """What the router does when no rule places a ticket on a street: it waits for the
    command centre whose place it lies in; waits until intake has it."""
    record = await intake.app.state.intake.store.get(ticket_id)
    await intake.play(
        TicketNeedsManualDispatch,
        ticket_id,
        "router",
        category=record.category,
        reason=f"no rule places it → {arbiter}",
        arbiter_id=arbiter,
        level=Level.DISTRICT,
    )


async def test_the_district_and_the_city_see_every_street(intake: Harness) -> None:
    qingshi = await on_street(intake, "qingshi")
    liuan = await on_street(intake, "liuan")
    unplaced = await intake.submit()  # no rule placed it on a street yet
    await queue_for(intake, unplaced, DISTRICT)  # it waits for the district to place it

    for ticket_id in (qingshi, liuan, unplaced):
        assert (await read(intake, ticket_id, DISTRICT)).status_code == 200
        assert (await read(intake, ticket_id, CITY)).status_code == 200
    assert {qingshi, liuan, unplaced} <= await found(intake, DISTRICT)
    assert {qingshi, liuan, unplaced} <= await found(intake, CITY)
    assert await found(intake, QINGSHI) == {qingshi}
    assert await found(intake, LIUAN) == {liuan}
    # The district places what no rule could; a street does not see it.
    assert (await read(intake, unplaced, QINGSHI)).status_code == 404
    closed = await intake.command(liuan, "close", auth(DISTRICT), {"reason": "duplicate"})
    assert closed.status_code == 200, closed.text


async def test_a_unit_sees_only_the_tickets_sent_to_it(intake: Harness) -> None:
    mine = await on_street(intake, "qingshi", GRID)
    theirs = await on_street(intake, "qingshi", BUS)

    assert (await read(intake, mine, GRID)).status_code == 200
    assert (await read(intake, theirs, GRID)).status_code == 404
    assert await found(intake, GRID) == {mine}
    assert await found(intake, GRID, street="qingshi") == {mine}
    refused = await intake.command(theirs, "acknowledge", auth(GRID))
    assert refused.status_code == 404
    assert (await intake.ticket(theirs))["assignments"][0]["acknowledged_at"] is None


async def test_not_yours_answers_exactly_like_not_found(intake: Harness) -> None:
    theirs = await on_street(intake, "qingshi", BUS)
    for caller in (GRID, LIUAN):
        assert anonymised(await read(intake, theirs, caller), theirs) == anonymised(
            await read(intake, NOBODYS, caller), NOBODYS
        )
        for verb, body in (
            ("acknowledge", None),
            ("close", {"reason": "withdrawn"}),
            ("notes", {"note": "看一下"}),
        ):
            existing = await intake.command(theirs, verb, auth(caller), body)
            missing = await intake.command(NOBODYS, verb, auth(caller), body)
            assert existing.status_code == 404
            assert anonymised(existing, theirs) == anonymised(missing, NOBODYS)


async def test_a_refusal_does_not_disclose_the_tickets_state(intake: Harness) -> None:
    ticket_id = await on_street(intake, "qingshi", GRID)
    # The street's supervisor may know the ticket but is not summoned to act on it.
    refused = await intake.command(ticket_id, "acknowledge", auth(QINGSHI))
    assert refused.status_code == 403
    body = refused.json()
    assert "status" not in body
    assert "version" not in body
    assert "dispatched" not in refused.text


async def test_an_idempotency_key_counts_per_client(intake: Harness) -> None:
    key = {"Idempotency-Key": "report-1"}
    report = {
        "category": "fire_box",
        "description": "消防箱玻璃碎了",
        "location": {"address": "和园小区 A-160", "grid_code": "HY-01"},
        "channel": "snap_it",
    }
    first = await intake.http.post("/api/v1/reports", json=report, headers=key)
    assert first.status_code == 201, first.text

    # Another client, the same key: its own report, not the first one's ticket.
    other = report | {"description": "路灯不亮了", "category": "bus_obstruction"}
    second = await intake.http.post("/api/v1/reports", json=other, headers=key | OPERATOR)
    assert second.status_code == 201, second.text
    assert second.json()["ticket_id"] != first.json()["ticket_id"]
    assert (await intake.ticket(second.json()["ticket_id"]))["description"] == "路灯不亮了"
    # Anonymous senders of one channel share a client: a different report with a reused
    # key is still a new ticket, never dropped.
    reused = await intake.http.post(
        "/api/v1/reports", json=report | {"description": "井盖丢了"}, headers=key
    )
    assert reused.status_code == 201, reused.text
    assert reused.json()["ticket_id"] != first.json()["ticket_id"]
    # A true retry still returns the first ticket.
    again = await intake.http.post("/api/v1/reports", json=report, headers=key)
    assert (again.status_code, again.json()["ticket_id"]) == (200, first.json()["ticket_id"])


async def test_a_transfer_to_a_unit_that_does_not_exist_is_refused(intake: Harness) -> None:
    ticket_id = await on_street(intake, "qingshi", GRID)
    response = await intake.command(
        ticket_id, "transfer", auth(GRID), {"to_unit_id": "no-such-unit", "reason": "不归我们"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "to_unit_id"
    assert response.json()["error"]["code"] == "unknown_unit"
    ticket = await intake.ticket(ticket_id)
    assert [a["unit_id"] for a in ticket["assignments"] if a["active"]] == [GRID]
    moved = await intake.command(
        ticket_id, "transfer", auth(GRID), {"to_unit_id": BUS, "reason": "公交车堵路"}
    )
    assert moved.status_code == 200, moved.text


async def test_a_command_key_reused_on_another_ticket_acts_on_that_ticket(
    intake: Harness,
) -> None:
    first = await on_street(intake, "qingshi", GRID)
    second = await on_street(intake, "qingshi", GRID)
    key = {"Idempotency-Key": "ack-1"}
    done = await intake.http.post(f"/api/v1/tickets/{first}/acknowledge", headers=auth(GRID) | key)
    assert (done.status_code, done.json()["ticket_id"]) == (200, first)
    other = await intake.http.post(
        f"/api/v1/tickets/{second}/acknowledge", headers=auth(GRID) | key
    )
    assert (other.status_code, other.json()["ticket_id"]) == (200, second)
    assert (await intake.ticket(second))["status"] == "in_progress"


async def test_a_hand_dispatch_outside_the_centres_street_is_not_found(
    intake: Harness,
) -> None:
    theirs = await on_street(intake, "qingshi")
    assignment = {"lead": BUS, "category": "fire_box"}
    existing = await intake.http.post(
        f"/api/v1/tickets/{theirs}/assign", headers=auth(LIUAN), json=assignment
    )
    missing = await intake.http.post(
        f"/api/v1/tickets/{NOBODYS}/assign", headers=auth(LIUAN), json=assignment
    )
    assert existing.status_code == 404
    assert anonymised(existing, theirs) == anonymised(missing, NOBODYS)
    assert anonymised(existing, theirs) == anonymised(await read(intake, theirs, LIUAN), theirs)


async def test_another_district_never_learns_of_an_unplaced_ticket(intake: Harness) -> None:
    """Not yet routed, then waiting for the district it lies in: another district can
    neither read, list nor close it, before or after; the city level always could."""
    waiting = await intake.submit()  # the router has not placed it yet
    assert (await read(intake, waiting, XISHAN)).status_code == 404
    assert (await read(intake, waiting, DISTRICT)).status_code == 404  # nor anyone but the city
    assert (await read(intake, waiting, CITY)).status_code == 200
    assert waiting not in await found(intake, XISHAN)
    assert waiting in await found(intake, CITY)

    await queue_for(intake, waiting, DISTRICT)
    assert (await read(intake, waiting, XISHAN)).status_code == 404
    assert waiting not in await found(intake, XISHAN)
    closed = await intake.command(waiting, "close", auth(XISHAN), {"reason": "duplicate"})
    assert closed.status_code == 404
    assert (await intake.ticket(waiting))["status"] == "manual_dispatch"
    # The district it waits for works it.
    assert (await read(intake, waiting, DISTRICT)).status_code == 200
    assert waiting in await found(intake, DISTRICT)


async def test_a_linked_report_is_scoped_like_its_lead(intake: Harness) -> None:
    """A duplicate is never routed itself: it is placed where its lead is, when it is
    linked and when the lead is placed later."""
    here = {"location": {"lat": 39.9087, "long": 116.3975, "address": "和园小区 A-160"}}
    lead = await intake.submit(**here)
    report = await intake.submit(**here, description="我也看到了消防箱坏了")
    assert (await intake.ticket(report))["status"] == "linked"

    # Before its lead is placed: the city only.
    assert (await read(intake, report, XISHAN)).status_code == 404
    assert report not in await found(intake, XISHAN)
    closed = await intake.command(report, "close", auth(XISHAN), {"reason": "duplicate"})
    assert closed.status_code == 404

    await intake.dispatch(lead, GRID, street="qingshi")
    stored = intake.app.state.intake.store
    deadline = asyncio.get_running_loop().time() + 10
    while (record := await stored.get(report)) is not None and record.street != "qingshi":
        assert asyncio.get_running_loop().time() < deadline, "the report never followed its lead"
        await asyncio.sleep(0.02)
    assert (await read(intake, report, XISHAN)).status_code == 404
    assert report not in await found(intake, XISHAN)
    assert report not in await found(intake, LIUAN)
    assert (await read(intake, report, LIUAN)).status_code == 404
    assert report in await found(intake, QINGSHI)
    assert report in await found(intake, DISTRICT)
    assert (await read(intake, report, QINGSHI)).status_code == 200

    # A report linked once its lead is placed starts placed.
    later = await intake.submit(**here, description="第三个人也报了")
    assert (await stored.get(later)).street == "qingshi"
    assert later in await found(intake, QINGSHI)
    assert later not in await found(intake, XISHAN)


async def test_a_hand_assignment_above_the_centres_level_is_refused(intake: Harness) -> None:
    """Refused by intake's HTTP API exactly as the router refuses it (the router's answer
    is played here by a responder on its subject)."""
    ticket_id = await intake.submit()

    async def router_refuses(message: Any) -> None:
        refusal = {"code": "level_above_centre", "detail": "street at most"}
        await message.respond(json.dumps({"ok": False, "error": refusal}).encode())

    subscription = await intake.app.state.intake.broker.connection.subscribe(
        f"cmd.unit.{QINGSHI}.manual.assign", cb=router_refuses
    )
    try:
        response = await intake.http.post(
            f"/api/v1/tickets/{ticket_id}/assign",
            headers=auth(QINGSHI),
            json={"lead": BUS, "category": "fire_box", "level": "city"},
        )
    finally:
        await subscription.unsubscribe()
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "level"
    assert response.json()["error"]["code"] == "level_above_centre"
