"""Duplicate clustering: a report of the same category close to an open ticket is linked
to it instead of dispatched again, and a unit can split a wrong link back out."""

from nats.js import JetStreamContext

from chuishao.common.events import ReportLinked, TicketSubmitted
from support.intake import OPERATOR, Harness, auth

HERE = {"lat": 39.90870, "long": 116.39750}
METRES_50_EAST = {"lat": 39.90870, "long": 116.39809}  # 0.00059° of longitude ≈ 50 m here
METRES_400_EAST = {"lat": 39.90870, "long": 116.40218}


async def report(intake: Harness, location: dict[str, float], **changes: object) -> dict:  # type: ignore[type-arg]
    body = {
        "category": "fire_box",
        "description": "消防箱玻璃碎了",
        "channel": "snap_it",
        "location": location,
    } | changes
    response = await intake.http.post("/api/v1/reports", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def subjects_of(js: JetStreamContext, ticket_id: str) -> set[str]:
    found = set()
    for kind in ("submitted", "linked", "split"):
        try:
            await js.get_last_msg("TICKETS", f"ticket.{kind}.{ticket_id}")
            found.add(kind)
        except Exception:  # noqa: BLE001, S112 - "no message" is the answer
            continue
    return found


async def test_a_nearby_report_of_the_same_kind_is_linked(
    intake: Harness, js: JetStreamContext
) -> None:
    first = await report(intake, HERE)
    second = await report(intake, METRES_50_EAST, reporter={"phone": "13700000001"})
    assert second["status"] == "linked"
    assert second["linked_to"] == first["ticket_id"]
    assert await subjects_of(js, second["ticket_id"]) == set()  # not routed
    linked = await js.get_last_msg("TICKETS", f"ticket.linked.{first['ticket_id']}")
    event = ReportLinked.model_validate_json(linked.data or b"")
    assert event.duplicate_ticket_id == second["ticket_id"]
    assert 40 < event.distance_m < 60
    assert event.reporter_ref is not None
    primary = await intake.until(first["ticket_id"], lambda t: t["interest_count"] == 2)
    assert primary["linked_reports"] == [second["ticket_id"]]
    assert (await intake.ticket(second["ticket_id"]))["linked_to"] == first["ticket_id"]


async def test_far_away_or_another_kind_or_finished_is_not_linked(
    intake: Harness, js: JetStreamContext
) -> None:
    first = await report(intake, HERE)
    far = await report(intake, METRES_400_EAST)
    assert far["status"] == "submitted"
    other_kind = await report(intake, HERE, category="parking", attributes={"vehicle": "car"})
    assert other_kind["status"] == "submitted"
    no_point = await report(intake, {"address": "和园小区"})  # type: ignore[dict-item]
    assert no_point["status"] == "submitted"

    await intake.dispatch(first["ticket_id"], "grid-heyuan")
    await intake.command(first["ticket_id"], "acknowledge", auth("grid-heyuan"))
    await intake.command(first["ticket_id"], "resolve", auth("grid-heyuan"), {"note": "修好了"})
    after = await report(intake, METRES_50_EAST)
    assert after["status"] == "submitted"  # the earlier one is resolved: this is news


async def test_a_unit_splits_a_wrong_link_back_out(intake: Harness, js: JetStreamContext) -> None:
    first = await report(intake, HERE)
    second = await report(intake, METRES_50_EAST)
    await intake.dispatch(first["ticket_id"], "grid-heyuan")
    path = f"/api/v1/tickets/{second['ticket_id']}/split"
    stranger = await intake.http.post(path, headers=auth("bus-yunxi"))
    assert stranger.status_code == 404  # neither ticket is its: as if there were none
    split = await intake.http.post(path, headers=auth("grid-heyuan"))
    assert split.status_code == 200, split.text
    assert split.json()["status"] == "submitted"
    assert split.json()["linked_to"] is None
    routed = await js.get_last_msg("TICKETS", f"ticket.submitted.{second['ticket_id']}")
    assert TicketSubmitted.model_validate_json(routed.data or b"").ticket_id == second["ticket_id"]
    primary = await intake.until(first["ticket_id"], lambda t: t["interest_count"] == 1)
    assert primary["linked_reports"] == []
    # Split out, the report is a ticket of its own, not (yet) sent to the grid station:
    # it answers as if there were none.
    again = await intake.http.post(path, headers=auth("grid-heyuan"))
    assert again.status_code == 404
    assert (await intake.http.post(path, headers=OPERATOR)).status_code == 409


async def test_the_linked_reporters_are_reachable_through_the_ticket(
    intake: Harness, js: JetStreamContext
) -> None:
    import json

    from chuishao.common import subjects
    from chuishao.common.queries import ReporterContact

    first = await report(intake, HERE, reporter={"phone": "13700000001"})
    await report(intake, METRES_50_EAST, reporter={"phone": "13700000002", "name": "周"})
    await intake.until(first["ticket_id"], lambda t: t["interest_count"] == 2)
    nc = intake.app.state.intake.broker.connection
    reply = await nc.request(
        subjects.REPORTER_CONTACT, json.dumps({"ticket_id": first["ticket_id"]}).encode(), timeout=5
    )
    contact = ReporterContact.model_validate_json(reply.data)
    assert contact.phone == "13700000001"
    assert [(c.phone, c.name) for c in contact.linked] == [("13700000002", "周")]
