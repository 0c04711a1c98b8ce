"""Every lifecycle command through the HTTP API, on real servers: the transitions, who
may send them, and what is refused (403 / 404 / 409 with the current state)."""

import asyncio
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from chuishao.common.domain import Whistle
from support.intake import OPERATOR, Harness, auth, resident_link_token

GRID, BUS, POLICE, CENTRE = "grid-heyuan", "bus-yunxi", "jiaojing-yunxi", "qingshi-command"


async def dispatched_ticket(intake: Harness, *units: str) -> str:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, *units)
    return ticket_id


async def ok(response_coroutine: Awaitable[httpx.Response]) -> dict[str, Any]:
    response = await response_coroutine
    assert response.status_code == 200, response.text
    return dict(response.json())


async def by_grid(
    intake: Harness, ticket_id: str, verb: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The grid station's command on the ticket, answered 200: the ticket as it is now."""
    return await ok(intake.command(ticket_id, verb, auth(GRID), body))


async def test_the_happy_path_from_dispatch_to_closed(
    intake: Harness, js: JetStreamContext
) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    ticket = await by_grid(intake, ticket_id, "acknowledge")
    assert ticket["status"] == "in_progress"
    ticket = await by_grid(intake, ticket_id, "notes", {"note": "已到现场"})
    ticket = await by_grid(
        intake,
        ticket_id,
        "resolve",
        {"note": "已更换玻璃", "evidence_urls": ["https://img.example.org/fixed.jpg"]},
    )
    assert ticket["status"] == "resolved"
    assert ticket["resolution"]["evidence_urls"] == ["https://img.example.org/fixed.jpg"]
    token = resident_link_token(ticket_id)
    ticket = await ok(
        intake.command(ticket_id, "rating", None, {"rating": "satisfied"}, token=token)
    )
    assert (ticket["status"], ticket["rating"]) == ("closed", "satisfied")
    assert ticket["view"] == "resident"  # the resident's link: no internal history
    types = [entry["type"] for entry in (await intake.ticket(ticket_id))["history"]]
    assert types[-6:] == [
        "TicketAcknowledged",
        "TicketProgressNoted",
        "UnitSignedOff",
        "TicketResolved",
        "TicketRated",
        "TicketClosed",
    ]
    for kind in ("acknowledged", "signed_off", "resolved", "rated", "closed"):
        await js.get_last_msg("TICKETS", f"ticket.{kind}.{ticket_id}")  # each one published


async def test_a_coordination_whistle_resolves_only_when_every_unit_signed_off(
    intake: Harness,
) -> None:
    ticket_id = await intake.submit(category="bus_obstruction")
    await intake.dispatch(ticket_id, POLICE, BUS, whistle=Whistle.COORDINATION)
    await ok(intake.command(ticket_id, "acknowledge", auth(POLICE)))
    early = await intake.command(ticket_id, "resolve", auth(POLICE), {"note": "已疏导"})
    assert early.status_code == 409  # the bus company has not reported for duty yet
    assert early.json()["error"]["message_zh"] == "工单已派单，正等待承办单位报到，现在不能办结"
    await ok(intake.command(ticket_id, "acknowledge", auth(BUS)))
    ticket = await ok(intake.command(ticket_id, "resolve", auth(POLICE), {"note": "已疏导"}))
    assert ticket["status"] == "in_progress"
    ticket = await ok(intake.command(ticket_id, "resolve", auth(BUS), {"note": "车辆已调度"}))
    assert ticket["status"] == "resolved"


async def test_unsatisfied_reopens_and_returns_to_the_same_unit(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    await by_grid(intake, ticket_id, "acknowledge")
    await by_grid(intake, ticket_id, "resolve", {"note": "处理完毕"})
    ticket = await ok(
        intake.command(
            ticket_id, "rating", OPERATOR, {"rating": "unsatisfied", "comment": "玻璃还是碎的"}
        )
    )
    assert ticket["status"] == "dispatched"
    assert ticket["reopen_count"] == 1
    assert ticket["rating"] == "unsatisfied"
    assert [a["unit_id"] for a in ticket["assignments"] if a["active"]] == [GRID]
    assert ticket["assignments"][0]["acknowledged_at"] is None
    await by_grid(intake, ticket_id, "acknowledge")  # back on duty


async def test_illegal_transitions_are_409_with_the_current_state(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    response = await intake.command(ticket_id, "rating", OPERATOR, {"rating": "satisfied"})
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "illegal_transition",
            "message_zh": "工单已派单，正等待承办单位报到，现在不能评价",
            "message_en": "This ticket is waiting for its units to report for duty"
            " and cannot be rated now",
            "field": None,
        }
    }
    await by_grid(intake, ticket_id, "acknowledge")
    again = await intake.command(ticket_id, "acknowledge", auth(GRID))
    assert again.status_code == 409
    assert "already reported" in again.json()["error"]["message_en"]


async def test_a_unit_cannot_act_on_a_ticket_not_sent_to_it(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    response = await intake.command(ticket_id, "acknowledge", auth(BUS))
    assert response.status_code == 404  # not its ticket: as if there were none
    assert (await intake.command(ticket_id, "acknowledge")).status_code == 401
    assert (await intake.command("T19990101000001", "acknowledge", auth(GRID))).status_code == 404
    resident_elsewhere = await intake.command(
        ticket_id, "rating", None, {"rating": "satisfied"}, token="0" * 32
    )
    assert resident_elsewhere.status_code == 403


async def test_bad_command_bodies_name_the_field(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    response = await intake.command(ticket_id, "decline", auth(GRID), {"reason_code": "bored"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "reason_code"
    response = await intake.command(ticket_id, "notes", auth(GRID), {"note": "x", "extra": 1})
    assert response.json()["error"]["field"] == "extra"


async def test_a_decline_returns_the_ticket_for_routing(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    ticket = await by_grid(
        intake, ticket_id, "decline", {"reason_code": "wrong_location", "note": "不在本社区"}
    )
    assert (ticket["status"], ticket["declines"]) == ("submitted", 1)
    assert (await intake.command(ticket_id, "notes", auth(GRID), {"note": "x"})).status_code == 409


async def test_an_extension_needs_a_supervisor(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    await by_grid(intake, ticket_id, "acknowledge")
    await by_grid(
        intake, ticket_id, "extension-requests", {"extra_hours": 24, "reason": "等待配件"}
    )
    twice = await intake.command(
        ticket_id, "extension-requests", auth(GRID), {"extra_hours": 24, "reason": "再等等"}
    )
    assert twice.status_code == 409
    decision = {"unit_id": GRID, "approve": True}
    assert (
        await intake.command(ticket_id, "extension-decisions", auth(GRID), decision)
    ).status_code == 403
    ticket = await ok(intake.command(ticket_id, "extension-decisions", auth(CENTRE), decision))
    assert ticket["history"][-1]["type"] == "ExtensionApproved"
    assert ticket["assignments"][0]["extension_requested_seconds"] is None


async def test_transfer_hands_the_part_to_another_unit(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    ticket = await by_grid(
        intake, ticket_id, "transfer", {"to_unit_id": "wuye-lanting", "reason": "属物业维修范围"}
    )
    assert ticket["history"][-1]["type"] == "TicketTransferred"
    assert ticket["status"] == "submitted"  # until the router summons the new unit
    await intake.dispatch(ticket_id, "wuye-lanting")
    assert (await intake.ticket(ticket_id))["status"] == "dispatched"


async def test_waiting_on_the_resident_pauses_and_resumes(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    await by_grid(intake, ticket_id, "acknowledge")
    ticket = await by_grid(intake, ticket_id, "awaiting-resident", {"note": "需要入户查看"})
    assert ticket["status"] == "awaiting_resident"
    assert (
        await intake.command(ticket_id, "resolve", auth(GRID), {"note": "x"})
    ).status_code == 409
    ticket = await ok(
        intake.command(
            ticket_id,
            "resident-replies",
            None,
            {"note": "明天在家"},
            token=resident_link_token(ticket_id),
        )
    )
    assert ticket["status"] == "in_progress"


async def test_supervisors_recategorise_and_close(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    assert (
        await intake.command(
            ticket_id, "recategorise", auth(GRID), {"category": "parking", "priority": "urgent"}
        )
    ).status_code == 403
    ticket = await ok(
        intake.command(
            ticket_id, "recategorise", auth(CENTRE), {"category": "parking", "priority": "urgent"}
        )
    )
    assert (ticket["category"], ticket["priority"]) == ("parking", "urgent")
    early = await intake.command(
        ticket_id, "close", auth(CENTRE), {"reason": "feedback_window_elapsed"}
    )
    assert early.status_code == 409
    ticket = await ok(intake.command(ticket_id, "close", auth(CENTRE), {"reason": "duplicate"}))
    assert ticket["status"] == "closed"
    after = await intake.command(
        ticket_id, "recategorise", auth(CENTRE), {"category": "fire_box", "priority": "normal"}
    )
    assert after.status_code == 409


async def test_a_stale_expected_version_is_a_conflict(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    version = (await intake.ticket(ticket_id))["version"]
    stale = await intake.command(
        ticket_id, "acknowledge", auth(GRID), {"expected_version": version - 1}
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "version_conflict"
    assert stale.json()["error"]["field"] == "expected_version"
    await by_grid(intake, ticket_id, "acknowledge", {"expected_version": version})


async def test_concurrent_conflicting_commands_exactly_one_wins(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    await by_grid(intake, ticket_id, "acknowledge")
    await by_grid(intake, ticket_id, "resolve", {"note": "done"})
    ratings = ["satisfied", "unsatisfied"] * 5
    responses = await asyncio.gather(
        *(intake.command(ticket_id, "rating", OPERATOR, {"rating": rating}) for rating in ratings)
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 9
    history = (await intake.ticket(ticket_id))["history"]
    assert [h["type"] for h in history].count("TicketRated") == 1


async def test_a_retried_command_with_the_same_key_applies_once(intake: Harness) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    headers = auth(GRID) | {"Idempotency-Key": "app-note-1"}
    first = await ok(intake.command(ticket_id, "notes", headers, {"note": "到场"}))
    again = await ok(intake.command(ticket_id, "notes", headers, {"note": "到场"}))
    assert first["version"] == again["version"]
    notes = [h for h in again["history"] if h["type"] == "TicketProgressNoted"]
    assert len(notes) == 1


@pytest.mark.parametrize("verb", ["acknowledge", "resolve"])
async def test_commands_on_a_closed_ticket_are_refused(intake: Harness, verb: str) -> None:
    ticket_id = await dispatched_ticket(intake, GRID)
    await ok(intake.command(ticket_id, "close", auth(CENTRE), {"reason": "withdrawn"}))
    response = await intake.command(
        ticket_id, verb, auth(GRID), {"note": "x"} if verb == "resolve" else None
    )
    assert response.status_code == 409
    assert response.json()["error"]["message_zh"].startswith("工单已关闭，不能再")
