"""The clerk's workbench over a real intake (in-process, real NATS and Redis): the queue's
tabs by the unit's own part, the ticket page in Chinese, the actions as forms, intake's
refusals shown on the page (never a 500), another unit's ticket the same 404 as none,
and the live stream saying "new dispatch" once intake shows it."""

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nats.js.errors import KeyNotFoundError

from chuishao.common import presence
from chuishao.common.domain import ClockKind, Level, Whistle
from chuishao.common.events import SlaClockArmed
from chuishao.common.kv import bucket
from chuishao.common.places import PlaceName, publish_places
from chuishao.common.roles import PersonRole
from chuishao.console.map import Pin, svg_map
from chuishao.console.web import events
from support.console import ConsoleHarness, running_console
from support.intake import Harness, auth
from support.servers import Servers
from support.supervision import serving

HTML = {"Accept": "text/html"}
NOBODYS = "T19990101000001"
PLACES = [
    PlaceName(code="qingshi", name="青石街道", kind="street", parent="yunxi",
              polygon=((116.38, 39.90), (116.41, 39.90), (116.41, 39.92), (116.38, 39.92))),
    PlaceName(code="HY-01", name="和园南网格", kind="grid", parent="heyuan",
              polygon=((116.39, 39.90), (116.40, 39.90), (116.40, 39.91), (116.39, 39.91))),
]  # fmt: skip


@pytest.fixture
async def console(servers: Servers, intake: Harness) -> AsyncIterator[ConsoleHarness]:
    await publish_places(intake.js, PLACES)
    async with running_console(servers.nats_url, servers.redis_url, intake.app) as harness:
        await harness.account("wang", PersonRole.CLERK, "grid-heyuan")
        await harness.account("zhao", PersonRole.CLERK, "bus-yunxi")
        yield harness


async def arm(
    intake: Harness, ticket_id: str, unit: str | None, clock: ClockKind, minutes: float
) -> None:
    """What sla does: a running clock, seen by intake."""
    await intake.play(
        SlaClockArmed,
        ticket_id,
        "sla",
        clock=clock,
        level=Level.COMMUNITY,
        unit_id=unit,
        limit_seconds=3600,
        deadline=datetime.now(UTC) + timedelta(minutes=minutes),
    )


async def grid_ticket(intake: Harness, console: ConsoleHarness, clerk: str) -> str:
    """A report dispatched to the grid station, `clerk` logged in to the console."""
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, "grid-heyuan")
    await console.login(clerk)
    return ticket_id


async def refused_then_done(
    console: ConsoleHarness, path: str, bad: dict[str, str], refusal: str, good: dict[str, str]
) -> str:
    """The `bad` form posted to `path` is refused (422, saying `refusal`), the `good` one
    done (200): the page that answers the good one."""
    status, html = await post(console, path, bad)
    assert status == 422
    assert refusal in html
    status, html = await post(console, path, good)
    assert status == 200
    return html


async def page(console: ConsoleHarness, path: str) -> tuple[int, str]:
    response = await console.http.get(path, headers=HTML)
    return response.status_code, response.text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def post(console: ConsoleHarness, path: str, form: dict[str, str]) -> tuple[int, str]:
    _, html = await page(console, "/clerk")
    response = await console.http.post(
        path, data=form | {"csrf_token": csrf_of(html)}, headers=HTML, follow_redirects=True
    )
    return response.status_code, response.text


def tab_count(html: str, tab: str) -> int:
    found = re.search(rf'data-count="{tab}">(\d+)<', html)
    assert found, html
    return int(found.group(1))


async def test_a_dispatch_waits_in_the_report_tab_until_the_clerk_reports(
    intake: Harness, console: ConsoleHarness
) -> None:
    ticket_id = await intake.submit()
    await intake.dispatch(ticket_id, "grid-heyuan", "bus-yunxi", whistle=Whistle.COORDINATION)
    await arm(intake, ticket_id, "grid-heyuan", ClockKind.REPORT_FOR_DUTY, 30)
    late = await intake.submit(description="路灯不亮")
    await intake.dispatch(late, "grid-heyuan")
    await intake.command(late, "acknowledge", auth("grid-heyuan"))
    await arm(intake, late, None, ClockKind.RESOLUTION, -60)
    assert (await console.login("wang")).status_code == 303
    status, html = await page(console, "/clerk")
    assert status == 200
    assert tab_count(html, "report") == 1
    assert ticket_id in html
    assert "消防箱损坏" in html  # the category's name, not fire_box
    assert "青石街道" in html
    assert "和园南网格" in html
    assert 'class="badge countdown warn"' in html  # the report-in deadline counts down
    assert "签收时限" in html
    assert tab_count(html, "overdue") == 1
    _, overdue = await page(console, "/clerk?tab=overdue")
    assert late in overdue
    assert "已超时" in overdue

    status, html = await page(console, f"/tickets/{ticket_id}")
    assert status == 200
    assert "A-160车位旁消防箱玻璃碎了" in html
    assert "云溪公交集团" in html
    assert "未签收" in html
    assert "协同哨" in html
    assert "<svg" in html
    assert 'class="pin"' in html
    assert "派单给 和园社区网格站" in html  # history in words
    assert "签收时限开始计时" not in html  # the clocks are in their own table, not the history
    for reason in ("不属于本单位职责", "重复工单"):
        assert reason in html  # decline reasons in Chinese

    status, html = await post(console, f"/tickets/{ticket_id}/acknowledge", {})
    assert status == 200
    assert "已签收，工单进入办理中" in html
    assert "和园社区网格站 签收了工单" in html
    assert "经办人：wang" in html  # the person named in the history
    # The unit reported: its report-in clock stopped (sla stops it), so intake no longer
    # lists it — nor counts it toward "overdue" once its time would have passed.
    clocks = (await intake.ticket(ticket_id))["clocks"]
    assert ("report_for_duty", "grid-heyuan") not in {(c["clock"], c["unit_id"]) for c in clocks}
    # A coordination whistle: still "dispatched" (the bus company has not reported), yet
    # in progress for this unit.
    _, html = await page(console, "/clerk")
    assert tab_count(html, "report") == 0
    assert tab_count(html, "working") == 2  # with the late one

    # Reporting twice: intake's refusal, in Chinese on the page, with intake's status.
    status, html = await post(console, f"/tickets/{ticket_id}/acknowledge", {})
    assert status == 409, html
    assert 'id="refusal"' in html

    status, html = await post(console, f"/tickets/{ticket_id}/notes", {"note": "已到场查看"})
    assert status == 200
    assert "进展已记录" in html
    assert "已到场查看" in html
    # An empty note is refused before intake, on the page.
    status, html = await post(console, f"/tickets/{ticket_id}/notes", {"note": "  "})
    assert status == 422
    assert "请填写进展内容" in html


async def test_another_units_ticket_is_the_same_404_as_none(
    intake: Harness, console: ConsoleHarness
) -> None:
    ticket_id = await grid_ticket(intake, console, "zhao")  # the bus company's clerk
    theirs = await page(console, f"/tickets/{ticket_id}")
    none = await page(console, f"/tickets/{NOBODYS}")
    assert theirs[0] == none[0] == 404
    assert theirs[1] == none[1]
    for verb, form in (
        ("acknowledge", {}),
        ("decline", {"reason_code": "other", "note": "x"}),
        ("notes", {"note": "x"}),
        ("resolve", {"note": "x"}),
    ):
        acted = await post(console, f"/tickets/{ticket_id}/{verb}", form)
        missing = await post(console, f"/tickets/{NOBODYS}/{verb}", form)
        assert acted[0] == missing[0] == 404, verb
        assert acted[1] == missing[1], verb
    _, html = await page(console, "/clerk")
    assert ticket_id not in html
    # Intake still has it waiting for the grid: nothing was done to it.
    assert (await intake.ticket(ticket_id))["status"] == "dispatched"


async def test_a_decline_needs_a_reason_and_leaves_the_queue(
    intake: Harness, console: ConsoleHarness
) -> None:
    ticket_id = await grid_ticket(intake, console, "wang")
    form = {"reason_code": "not_our_responsibility", "note": "属于物业"}
    html = await refused_then_done(
        console, f"/tickets/{ticket_id}/decline", {"note": "不是我们的"}, "请选择退单原因", form
    )
    assert "已退单" in html
    assert "退单：不属于本单位职责" in html
    _, html = await page(console, "/clerk")
    assert tab_count(html, "report") == 0


async def test_the_live_stream_says_new_once_intake_shows_it(
    intake: Harness, console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "POLL_SECONDS", 0.1)
    first = await intake.submit()
    await intake.dispatch(first, "grid-heyuan")
    await console.login("wang")
    frames: asyncio.Queue[str] = asyncio.Queue()
    session = {"Cookie": f"chuishao_session={console.http.cookies['chuishao_session']}"}

    async def listen(base_url: str) -> None:
        # A real port: the in-memory transport would hold the stream until it ends.
        async with (
            httpx.AsyncClient(base_url=base_url, headers=session) as http,
            http.stream("GET", f"/events/clerk?known={first}") as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    await frames.put(line[6:])

    async with serving(console.app) as base_url:
        listener = asyncio.create_task(listen(base_url))
        try:
            second = await intake.submit(description="楼道灯坏了")
            await intake.dispatch(second, "grid-heyuan")
            news = json.loads(await asyncio.wait_for(frames.get(), timeout=10))
            assert news["new"] == [second]  # not the one the page already showed
            # Another unit's dispatch is no news to this clerk.
            third = await intake.submit(description="公交站牌歪了")
            await intake.dispatch(third, "bus-yunxi")
            await intake.dispatch(await intake.submit(), "grid-heyuan")
            news = json.loads(await asyncio.wait_for(frames.get(), timeout=10))
            assert third not in news["new"]
            # While the page is open the unit is marked present: notify spares its phone.
            kv = await bucket(intake.js, presence.BUCKET)
            seen = presence.Presence.model_validate_json((await kv.get("grid-heyuan")).value or b"")
            assert (datetime.now(UTC) - seen.seen_at).total_seconds() < presence.FRESH_SECONDS
            with pytest.raises(KeyNotFoundError):
                await kv.get("bus-yunxi")
        finally:
            listener.cancel()
            with pytest.raises(asyncio.CancelledError):
                await listener


def test_the_map_escapes_names_and_pins_inside_the_picture() -> None:
    evil = PlaceName(
        code="x", name="<script>alert(1)</script>", kind="street", polygon=PLACES[0].polygon
    )
    svg = str(svg_map([evil, PLACES[1]], [Pin(116.395, 39.905, "T1")], street="x"))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    pin = re.search(r'class="pin" transform="translate\(([\d.]+),([\d.]+)\)', svg)
    assert pin
    width, height = map(float, re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())  # type: ignore[union-attr]
    assert 0 < float(pin.group(1)) < width
    assert 0 < float(pin.group(2)) < height
    assert svg_map([], []) == ""  # no outlines: no map rather than an empty box


async def test_an_extension_and_a_transfer_from_the_page(
    intake: Harness, console: ConsoleHarness
) -> None:
    ticket_id = await grid_ticket(intake, console, "wang")
    await post(console, f"/tickets/{ticket_id}/acknowledge", {})
    bad = {"extra_hours": "abc", "reason": "等配件"}
    form = {"extra_hours": "24", "reason": "等配件"}
    html = await refused_then_done(
        console, f"/tickets/{ticket_id}/extension", bad, "请填写延期小时数", form
    )
    assert "延期申请已提交" in html
    assert "和园社区网格站 申请延期 24 小时" in html
    form = {"to_unit_id": "wuye-lanting", "reason": "属于物业维修范围"}
    status, html = await post(console, f"/tickets/{ticket_id}/transfer", form)
    assert status == 200
    assert "已转办" in html
    assert "和园社区网格站 转办给 兰亭物业" in html
    _, html = await page(console, "/clerk?tab=working")
    assert ticket_id not in html  # no longer the unit's to do
