"""Proactive tickets (未诉先办, issue 19) on real nats-server and redis-server, with intake,
the router and supervision running: 青石街道's command centre opens one on its own grid
through intake's API; it is not linked to the resident's open report of the same thing
there, the router dispatches it like any other, and supervision counts it as 主动治理,
apart from the received tickets and every rate. Nobody else may open one: an anonymous
caller, a resident's link, an ordinary unit, a NATS caller — and a street's centre not
on another street's grid. The console's form (from a hotspot warning's 主动立案 button)
offers the centre's own grids only and files the ticket through intake as the person."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from chuishao.common.clock import ManualClock
from chuishao.common.events import TicketDispatched
from chuishao.common.roles import PersonRole
from chuishao.console.web.centre_live import hotspot_item
from chuishao.router.bootstrap import bootstrap
from chuishao.router.settings import RouterSettings
from support.browser import eventually
from support.console import running_console
from support.factories import hotspot
from support.intake import Harness, auth, resident_link_token, running_intake
from support.servers import Servers
from support.supervision import SupervisionHarness, running_supervision

pytestmark = pytest.mark.usefixtures("clean")
PROACTIVE = {
    "category": "fire_box",
    "description": "主动治理：和园南网格消防箱本月反复被反映损坏，统一排查更换",
    # At the very place of the resident's open report: it must not be linked to it.
    "location": {"address": "和园南网格", "grid_code": "HY-01", "lat": 39.905, "long": 116.395},
    "channel": "proactive",
}
RESIDENT = {
    "category": "fire_box",
    "description": "A-160车位旁消防箱玻璃碎了",
    "location": {"address": "和园小区 A-160", "grid_code": "HY-01", "lat": 39.905, "long": 116.395},
    "channel": "snap_it",
}
Stack = tuple[Harness, SupervisionHarness]
HTML = {"Accept": "text/html"}


@pytest.fixture
async def stack(servers: Servers, js: JetStreamContext) -> AsyncIterator[Stack]:
    async with running_supervision(
        servers.nats_url, servers.redis_url, js, log_level="WARNING"
    ) as supervision:
        router = bootstrap(
            RouterSettings(
                nats_url=servers.nats_url, redis_url=servers.redis_url, log_level="WARNING"
            ),
            clock=ManualClock(),
        )
        await router.runtime.start()
        try:
            async with running_intake(servers.nats_url, servers.redis_url, js) as intake:
                yield intake, supervision
        finally:
            await router.runtime.stop()


async def filed(http: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    """The answer once intake has its directories (503 until then)."""

    async def answer() -> httpx.Response | None:
        response = await http.post("/api/v1/reports", json=body, headers=headers)
        return None if response.status_code == 503 else response

    response: httpx.Response = await eventually(answer, "intake has loaded its directories")
    return response


async def test_a_centre_opens_one_it_is_dispatched_and_counted_apart(
    stack: Stack, js: JetStreamContext
) -> None:
    intake, supervision = stack
    resident = await filed(intake.http, RESIDENT)
    assert resident.status_code == 201, resident.text
    opened = await filed(intake.http, PROACTIVE, **auth("qingshi-command"))
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["ticket_id"]
    assert opened.json()["linked_to"] is None  # not one more report of the open ticket

    record = await intake.ticket(ticket_id)
    assert record["channel"] == "proactive"

    async def dispatched() -> TicketDispatched | None:
        try:
            message = await js.get_last_msg("TICKETS", f"ticket.dispatched.{ticket_id}")
        except NotFoundError:  # not yet
            return None
        return TicketDispatched.model_validate_json(message.data or b"")

    dispatch: TicketDispatched = await eventually(dispatched, "the router dispatched it")
    assert dispatch.street == "qingshi"
    await intake.until(ticket_id, lambda t: t["status"] == "dispatched")

    async def counted() -> dict[str, Any] | None:
        rates = await supervision.rates("street:qingshi")
        counts: dict[str, int] = rates["counts"]
        return rates if counts.get("proactive") and counts.get("dispatched") else None

    rates = await eventually(counted, "supervision counted both tickets")
    counts = rates["counts"]
    # The resident's ticket in the assessed figures, the centre's own one apart.
    assert counts["proactive"] == 1
    assert counts["received"] == 1
    assert counts["dispatched"] == 1
    unit = await supervision.rates(f"unit:{dispatch.unit_id}")
    assert unit["counts"]["proactive"] == 1


async def test_nobody_but_a_centre_on_its_own_streets_opens_one(stack: Stack, nc: Client) -> None:
    intake, _ = stack
    refusals = {
        "anonymous": await filed(intake.http, PROACTIVE),
        "a unit": await filed(intake.http, PROACTIVE, **auth("grid-heyuan")),
        "another street's centre": await filed(intake.http, PROACTIVE, **auth("liuan-command")),
    }
    # A resident's link is no credential for filing: the same as anonymous.
    link = await intake.http.post(
        "/api/v1/reports",
        json=PROACTIVE,
        params={"token": resident_link_token("T20260105000001")},
    )
    refusals["a resident's link"] = link
    for who, response in refusals.items():
        assert response.status_code == 403, (who, response.text)
    codes = {who: r.json()["error"]["code"] for who, r in refusals.items()}
    assert codes["another street's centre"] == "street_not_in_scope"
    assert codes["anonymous"] == codes["a unit"] == "proactive_by_centre"
    no_grid = await filed(
        intake.http,
        PROACTIVE | {"location": {"address": "和园小区"}},
        **auth("qingshi-command"),
    )
    assert no_grid.status_code == 422
    assert no_grid.json()["error"]["field"] == "location.grid_code"
    # The district opens one on any of its streets.
    district = await filed(intake.http, PROACTIVE, **auth("district-yunxi"))
    assert district.status_code == 201, district.text

    reply = await nc.request("cmd.submit", json.dumps(PROACTIVE).encode(), timeout=5)
    answer = json.loads(reply.data)
    assert answer["ok"] is False
    assert answer["error"]["code"] == "proactive_by_centre"


async def test_the_centre_files_one_from_the_console_on_its_own_grids_only(
    stack: Stack, servers: Servers
) -> None:
    intake, _ = stack
    async with running_console(servers.nats_url, servers.redis_url, intake.app) as console:
        await console.account("centre-qingshi", PersonRole.COMMAND_CENTRE, "qingshi")
        assert (await console.login("centre-qingshi")).status_code == 303
        # The hotspot warning's item links to the form, prefilled.
        where = ("HY-01", "qingshi", "fire_box")
        warning = hotspot("T20260105000001", "c-hotspot", datetime.now(UTC), where, 6)
        link = str(hotspot_item(console.console, warning)["proactive"])
        assert link.startswith("/centre/proactive?")

        async def form() -> str | None:
            page = await console.http.get(link, headers=HTML)
            assert page.status_code == 200, page.text
            return page.text if 'value="HY-01" selected' in page.text else None

        page: str = await eventually(form, "the form offers the centre's grids")
        assert 'value="fire_box" selected' in page
        assert "预警" in page  # the description says why
        assert 'value="LY-01"' not in page  # 柳岸's grids are not offered
        other = await console.http.get("/centre/proactive?grid=LY-01", headers=HTML)
        assert other.status_code == 403

        csrf = await console.session_csrf(link)
        filed_form = {
            "csrf_token": csrf,
            "grid": "HY-01",
            "category": "fire_box",
            "description": "主动治理：和园南网格消防箱统一排查",
        }
        done = await console.http.post("/centre/proactive", data=filed_form)
        assert done.status_code == 303, done.text
        ticket_id = done.headers["location"].rsplit("t=", 1)[1]
        record = await intake.ticket(ticket_id)
        assert record["channel"] == "proactive"
        assert record["location"]["grid_code"] == "HY-01"
        refused = await console.http.post(
            "/centre/proactive", data=filed_form | {"grid": "LY-01"}, headers=HTML
        )
        assert refused.status_code == 403
