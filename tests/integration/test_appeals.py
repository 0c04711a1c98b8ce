"""Appeals (申诉) and exemptions (免责), issue 19, on real nats-server and redis-server with
intake and supervision in-process: a unit appeals an unsatisfied rating over HTTP, a
street's account may not decide it, the district upholds it once, and the unit's 满意率
no longer counts that rating (docs/supervision.md, "Appeals and exemptions"); another
unit neither reads nor files appeals on it; over NATS a breach is appealed and decided
and the unit's on-time rate becomes whole; a rebuild of supervision equals the live one."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.domain import ClockKind, Level, Whistle
from chuishao.common.events import SlaBreached
from chuishao.common.replies import unit_inbox_prefix
from chuishao.common.units import publish_units
from chuishao.supervision.keys import SupervisionKeys
from chuishao.supervision.rebuild import differences, rebuild, snapshot
from support.intake import OPERATOR, UNITS, Harness, auth
from support.servers import Servers
from support.supervision import SupervisionHarness, running_supervision

GRID, BUS = "grid-heyuan", "bus-yunxi"
DISTRICT, STREET = "district-yunxi", "qingshi-command"
ERROR_FIELDS = {"code", "message_zh", "message_en", "field"}


@pytest.fixture
async def supervision(
    servers: Servers, js: JetStreamContext, intake: Harness
) -> AsyncIterator[SupervisionHarness]:
    async with running_supervision(
        servers.nats_url, servers.redis_url, js, log_level="WARNING"
    ) as harness:
        # Supervision's harness publishes the sample directory without the streets each
        # centre serves; intake's scopes need them (its own directory, published again).
        await publish_units(js, UNITS)
        directory = intake.app.state.intake.keys.unit_directory
        deadline = asyncio.get_running_loop().time() + 10
        while (unit := directory.get(STREET)) is None or not unit.streets:
            assert asyncio.get_running_loop().time() < deadline, "directory not republished"
            await asyncio.sleep(0.02)
        yield harness


async def ok(intake: Harness, ticket_id: str, verb: str, unit: dict[str, str], **body: Any) -> Any:
    response = await intake.command(ticket_id, verb, unit, body or None)
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == ERROR_FIELDS, error
    assert error["code"] == code, error
    assert error["message_zh"], error
    return error


async def handled(intake: Harness, ticket_id: str) -> None:
    for unit in (GRID, BUS):
        await ok(intake, ticket_id, "acknowledge", auth(unit))
    for unit in (GRID, BUS):
        await ok(intake, ticket_id, "resolve", auth(unit), note="已修复")


async def until_applied(harness: SupervisionHarness, ticket_id: str, event_type: str) -> None:
    """Supervision has folded the ticket's decided appeal, or its closing."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        facts = await harness.service.projection.facts(ticket_id)
        if facts is not None and (
            (event_type == "AppealDecided" and any(a.outcome for a in facts.appeals.values()))
            or (event_type == "TicketClosed" and facts.closed)
        ):
            return
        assert asyncio.get_running_loop().time() < deadline, f"not applied: {event_type}"
        await asyncio.sleep(0.02)


async def unit_rates(harness: SupervisionHarness, unit: str) -> dict[str, Any]:
    return await harness.rates(f"unit:{unit}")


async def settled_rate(harness: SupervisionHarness, unit: str, name: str) -> float:
    """The unit's rate once supervision has folded the event it counts (it is None before)."""
    deadline = asyncio.get_running_loop().time() + 15
    while (value := (await unit_rates(harness, unit))[name]) is None:
        assert asyncio.get_running_loop().time() < deadline, f"{name} never counted"
        await asyncio.sleep(0.02)
    return float(value)


async def test_an_upheld_rating_appeal_is_an_exemption_in_the_report(
    intake: Harness, supervision: SupervisionHarness, js: JetStreamContext, redis: Redis
) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, GRID, BUS, whistle=Whistle.COORDINATION)
    await handled(intake, ticket_id)
    await ok(intake, ticket_id, "rating", OPERATOR, rating="unsatisfied", comment="没修好")
    await handled(intake, ticket_id)  # reopened: back to both units, handled again
    await ok(intake, ticket_id, "rating", OPERATOR, rating="satisfied")
    await until_applied(supervision, ticket_id, "TicketClosed")
    before = await unit_rates(supervision, GRID)
    assert before["satisfaction_rate"] == 0.5  # 满意 1 of 2 ratings
    assert before["counts"]["rated"] == 2

    # Nothing to appeal about a decline the unit never made; a unit never sent the
    # ticket learns nothing of it (intake's 404, as for a ticket that does not exist).
    refused(
        await intake.command(
            ticket_id, "appeals", auth(GRID), {"subject": "decline", "reason": "x"}
        ),
        409,
        "illegal_transition",
    )
    refused(
        await intake.command(
            ticket_id, "appeals", auth("wuye-lanting"), {"subject": "rating", "reason": "不是我们"}
        ),
        404,
        "not_found",
    )
    filed = await ok(
        intake,
        ticket_id,
        "appeals",
        auth(GRID),
        subject="rating",
        reason="居民不满意的是供暖，不属于消防箱",
        evidence_urls=["https://photos.example.org/p/evidence-1.jpg"],
    )
    [appeal] = filed["appeals"]
    assert appeal["unit_id"] == GRID
    assert appeal["outcome"] is None
    assert appeal["evidence_urls"] == ["https://photos.example.org/p/evidence-1.jpg"]
    # One open appeal per ticket × unit × subject.
    refused(
        await intake.command(
            ticket_id, "appeals", auth(GRID), {"subject": "rating", "reason": "再"}
        ),
        409,
        "illegal_transition",
    )

    # The co-unit on the same ticket sees the ticket, not GRID's appeal; nor in its list.
    co = await intake.http.get(f"/api/v1/tickets/{ticket_id}", headers=auth(BUS))
    assert co.status_code == 200
    assert co.json()["appeals"] == []
    listed = await intake.http.get("/api/v1/appeals", headers=auth(BUS))
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    own = (await intake.http.get("/api/v1/appeals", headers=auth(GRID))).json()["items"]
    assert [i["appeal"]["appeal_id"] for i in own] == [appeal["appeal_id"]]
    # The street's command centre reads it, pending, but may not decide it.
    pending = await intake.http.get("/api/v1/appeals?state=pending", headers=auth(STREET))
    assert [i["ticket_id"] for i in pending.json()["items"]] == [ticket_id]
    decision = {"appeal_id": appeal["appeal_id"], "outcome": "upheld", "note": "核实属实"}
    refused(
        await intake.command(ticket_id, "appeal-decisions", auth(STREET), decision),
        403,
        "forbidden",
    )
    refused(
        await intake.command(ticket_id, "appeal-decisions", auth(GRID), decision), 403, "forbidden"
    )

    decided = await ok(intake, ticket_id, "appeal-decisions", auth(DISTRICT), **decision)
    assert decided["appeals"][0]["outcome"] == "upheld"
    assert decided["appeals"][0]["decided_by"] == DISTRICT
    again = decision | {"outcome": "rejected"}
    refused(
        await intake.command(ticket_id, "appeal-decisions", auth(DISTRICT), again),
        409,
        "illegal_transition",
    )
    # Upheld: the exemption stands, no second appeal about it.
    refused(
        await intake.command(
            ticket_id, "appeals", auth(GRID), {"subject": "rating", "reason": "再"}
        ),
        409,
        "illegal_transition",
    )

    await until_applied(supervision, ticket_id, "AppealDecided")
    after = await unit_rates(supervision, GRID)
    # The unsatisfied rating left GRID's 评价数 (the denominator): 1 of 1.
    assert after["satisfaction_rate"] == 1.0
    assert after["counts"]["rated"] == 1
    assert after["counts"].get("rated_unsatisfied", 0) == 0
    assert after["counts"]["exemptions"] == 1
    assert after["counts"]["appeals"] == 1
    assert (await unit_rates(supervision, BUS))["satisfaction_rate"] == 0.5  # not BUS's
    # The ticket's own (street, city) rates are the tickets as they happened.
    assert (await supervision.rates("street:qingshi"))["satisfaction_rate"] == 0.5

    submitted = datetime.fromisoformat((await intake.ticket(ticket_id))["submitted_at"])
    month = submitted.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    report = (await supervision.http.get(f"/api/v1/reports/monthly/{month}")).json()
    row = next(u for u in report["units"] if u["id"] == GRID)
    assert row["rates"]["counts"]["exemptions"] == 1
    assert row["rates"]["satisfaction_rate"] == 1.0
    page = (await supervision.http.get(f"/reports/monthly/{month}")).text
    assert "免责数" in page
    assert 'id="def-exemptions"' in page
    exported = (await supervision.http.get(f"/api/v1/reports/monthly/{month}.csv")).content
    lines = exported.decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    grid_line = next(line.split(",") for line in lines if f",{GRID}," in line)
    assert grid_line[header.index("免责数")] == "1"

    # Rebuilt from the stream, the projection (exemption included) equals the live one.
    service = supervision.service
    await rebuild(js, redis, "sup-appeal-rebuild", service.projection.zone, service.projection.rule)
    live = await snapshot(redis, SupervisionKeys(service.settings.supervision_namespace))
    rebuilt = await snapshot(redis, SupervisionKeys("sup-appeal-rebuild"))
    assert differences(live, rebuilt) == []
    assert rebuilt[f"counts:unit:{GRID}:all"]["exemptions"] == "1"


async def request(client: Client, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await client.request(subject, json.dumps(body).encode(), timeout=5)
    return dict(json.loads(reply.data))


async def test_a_breach_appeal_over_nats(
    intake: Harness, supervision: SupervisionHarness, servers: Servers
) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, GRID)
    await intake.play(
        SlaBreached,
        ticket_id,
        "sla",
        lambda t: t["assignments"][0]["breached"],
        clock=ClockKind.REPORT_FOR_DUTY,
        level=Level.COMMUNITY,
        unit_id=GRID,
        deadline=datetime.now(UTC) - timedelta(minutes=5),
        overdue_seconds=300,
    )
    unit = await nats.connect(servers.nats_url, inbox_prefix=unit_inbox_prefix(GRID))
    district = await nats.connect(servers.nats_url, inbox_prefix=unit_inbox_prefix(DISTRICT))
    street = await nats.connect(servers.nats_url, inbox_prefix=unit_inbox_prefix(STREET))
    try:
        acked = await request(unit, f"cmd.unit.{GRID}.acknowledge", {"ticket_id": ticket_id})
        assert acked["ok"] is True, acked
        late = await settled_rate(supervision, GRID, "on_time_response_rate")
        filed = await request(
            unit,
            f"cmd.unit.{GRID}.appeals",
            {"ticket_id": ticket_id, "subject": "breach", "reason": "暴雨封路，无法按时到场"},
        )
        assert filed["ok"] is True, filed
        appeal_id = filed["ticket"]["appeals"][0]["appeal_id"]
        decision = {"ticket_id": ticket_id, "appeal_id": appeal_id, "outcome": "upheld"}
        no = await request(street, f"cmd.unit.{STREET}.appeal-decisions", decision)
        assert no["ok"] is False, no
        assert no["error"]["code"] == "forbidden", no
        assert set(no["error"]) == ERROR_FIELDS
        yes = await request(district, f"cmd.unit.{DISTRICT}.appeal-decisions", decision)
        assert yes["ok"] is True, yes
        twice = await request(district, f"cmd.unit.{DISTRICT}.appeal-decisions", decision)
        assert twice["ok"] is False
        assert twice["error"]["code"] == "illegal_transition"
    finally:
        for client in (unit, district, street):
            await client.close()
    await until_applied(supervision, ticket_id, "AppealDecided")
    assert late == 0.0  # it reported after its deadline had run out
    after = await unit_rates(supervision, GRID)
    assert after["on_time_response_rate"] == 1.0
    assert after["counts"]["exemptions"] == 1
