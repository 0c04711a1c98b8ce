"""The command centre's screen in headless Chromium, against the real stack (intake,
router, sla, notify, supervision as processes; the console in-process on a real port).

A street's command centre finds a report triage could not place in its manual queue
(with triage's suggestions), assigns it to three units with a coordination whistle (协同哨);
each summoned clerk reports for duty and signs off as themselves (the person token), and
the ticket is resolved only by the last sign-off. Another street's centre gets 404 for
it. A hotspot warning arrives live on the page of its street only; an overdue ticket is
urged (督办) from the page and the unit gets the notice on its own subject. Screenshots
at a desk (1366×900), on a big screen (1920×1080) and on a phone (390×844) go to
artifacts/screenshots/console-centre-*.png.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect
from redis.asyncio import Redis

from chuishao.common.clock import advance_shared_clock
from chuishao.common.events import HotspotDetected, TicketUrged
from chuishao.common.publishing import publish_event
from chuishao.common.roles import PersonRole
from chuishao.console.auth import Person
from support.browser import TIMEOUT, eventually, status_is, ticket
from support.console import PASSWORD, ConsoleHarness
from support.servers import Servers
from support.stack import ServiceProcesses

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESK = ViewportSize(width=1366, height=900)
BIG = ViewportSize(width=1920, height=1080)
PHONE = ViewportSize(width=390, height=844)
LEAD, CO = "cg-yunxi", ("wuyeban-qingshi", "grid-heyuan")
SUMMONED = (LEAD, *CO)
CENTRE = Person("centre-qingshi", PersonRole.COMMAND_CENTRE, street="qingshi")
OTHER_CENTRE = Person("centre-liuan", PersonRole.COMMAND_CENTRE, street="liuan")


# The shared clock lets the overdue test move the whole stack's time.
STACK_ENV = {"CHUISHAO_CLOCK": "shared"}
CONSOLE_SETTINGS = {"clock": "shared"}


def clerk(unit: str) -> Person:
    return Person(f"clerk-{unit}", PersonRole.CLERK, unit=unit)


CONSOLE_ACCOUNTS = [
    (person.username, person.role, person.scope)
    for person in (CENTRE, OTHER_CENTRE, *map(clerk, SUMMONED))
]


@pytest.fixture
async def http(stack: ServiceProcesses) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as client:
        yield client


async def waiting_ticket(harness: ConsoleHarness, http: httpx.AsyncClient) -> str:
    """A hotline note triage cannot place, on 青石街道: it waits for the street's centre."""
    body = {
        "description": "和园小区这边有个情况想反映一下，麻烦来看看",
        "location": {"address": "和园小区 7号楼", "lat": 39.905, "long": 116.395},
        "channel": "hotline_12345",
    }

    async def submitted() -> str | None:
        response = await http.post("/api/v1/reports", json=body)
        if response.status_code == 503:  # until intake has the router's catalogue
            return None
        assert response.status_code == 201, response.text
        return str(response.json()["ticket_id"])

    ticket_id: str = await eventually(submitted, "intake took the report")

    async def queued() -> bool:
        queue = await harness.console.intake.get("/api/v1/manual-queue", CENTRE)
        return ticket_id in {t["ticket_id"] for t in queue["tickets"]}

    await eventually(queued, "the ticket waits in 青石街道's manual queue")
    return ticket_id


async def log_in(browser: Browser, base_url: str, person: Person, viewport: ViewportSize) -> Page:
    page = await (await browser.new_context(viewport=viewport, locale="zh-CN")).new_page()
    await page.goto(base_url + "/login")
    await page.fill("input[name=username]", person.username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    return page


async def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"console-centre-{name}.png"), full_page=True)


@pytest.mark.timeout(900)
async def test_a_coordination_whistle_resolves_only_when_every_unit_signed_off(
    console: tuple[ConsoleHarness, str], browser: Browser, http: httpx.AsyncClient
) -> None:
    harness, base_url = console
    ticket_id = await waiting_ticket(harness, http)

    page = await log_in(browser, base_url, CENTRE, DESK)
    await page.goto(base_url + "/centre")
    row = page.locator(f"#q-{ticket_id}")
    await expect(row).to_be_visible()
    await expect(page.locator("h1")).to_contain_text("青石街道")
    await expect(row.locator(".suggest li").first).to_be_visible()  # triage's best guesses
    await expect(page.locator(f"#map a[href='#q-{ticket_id}']")).to_have_count(1)  # its pin
    # Only the units serving 青石街道 are offered: none of 柳岸街道's own.
    offered = await row.locator("select[name=lead] option").all_inner_texts()
    assert "青石街道物业管理办公室" in offered
    assert not any("柳岸" in name for name in offered), offered
    await shoot(page, "desk")
    for name, viewport in (("big", BIG), ("phone", PHONE)):
        await page.set_viewport_size(viewport)
        await shoot(page, name)
    await page.set_viewport_size(DESK)

    # 派单: a category, a lead and two co-handlers, 协同哨.
    await row.locator("select[name=category]").select_option("road_damage")
    await row.locator("select[name=lead]").select_option(LEAD)
    for unit in CO:
        await row.locator(f"input[name=co][value={unit}]").check()
    await row.locator("input[name=whistle][value=coordination]").check()
    await row.locator("input[name=note]").fill("请三家联合到场处置")
    await row.locator("button[type=submit]").click()
    await page.wait_for_url("**/centre?done=assigned**")
    await expect(page.locator("#done")).to_contain_text(ticket_id)
    await expect(page.locator(f"#q-{ticket_id}")).to_have_count(0)

    async def dispatched() -> dict[str, Any] | None:
        found = await ticket(http, ticket_id)
        parts = {a["unit_id"]: a for a in found["assignments"] if a["active"]}
        return found if set(SUMMONED) <= set(parts) else None

    found = await eventually(dispatched, "all three units summoned")
    assert found["status"] == "dispatched"
    whistles = {a["unit_id"]: a["whistle"] for a in found["assignments"]}
    assert all(whistles[u] == "coordination" for u in SUMMONED), whistles

    # Another street's centre: the same 404 as for a ticket that does not exist.
    other = await log_in(browser, base_url, OTHER_CENTRE, DESK)
    await other.goto(base_url + "/centre")
    assert ticket_id not in await other.content()
    csrf = await other.locator("input[name=csrf_token]").first.input_value()
    for action, form in (
        ("assign", {"lead": LEAD, "whistle": "daily"}),
        ("urge", {"unit_id": LEAD}),
        ("extension", {"unit_id": LEAD, "decision": "approve"}),
    ):
        refused = await other.request.post(
            f"{base_url}/centre/tickets/{ticket_id}/{action}",
            form={**form, "csrf_token": csrf},
            max_redirects=0,
        )
        assert refused.status == 404, (action, refused.status, await refused.text())
    missing = await other.request.post(
        f"{base_url}/centre/tickets/T20990101999999/urge",
        form={"unit_id": LEAD, "csrf_token": csrf},
        max_redirects=0,
    )
    assert missing.status == 404
    await other.context.close()

    # Each summoned clerk reports for duty, as themselves.
    for unit in SUMMONED:
        await harness.console.intake.post(f"/api/v1/tickets/{ticket_id}/acknowledge", clerk(unit))
    found = await eventually(
        lambda: status_is(http, ticket_id, "in_progress"), "in progress once all reported"
    )
    # 事不完、人不撤: resolved only by the last sign-off.
    for index, unit in enumerate(SUMMONED):
        answer = await harness.console.intake.post(
            f"/api/v1/tickets/{ticket_id}/resolve", clerk(unit), json={"note": f"{unit} 已处置"}
        )
        last = index == len(SUMMONED) - 1
        assert answer["status"] == ("resolved" if last else "in_progress"), (unit, answer["status"])
    found = await ticket(http, ticket_id)
    assert found["status"] == "resolved"
    assert {s["unit_id"] for s in found["resolution"]["sign_offs"]} == set(SUMMONED)

    # Search with intake's filters: the hand-given category is the ticket's now.
    await page.goto(base_url + "/centre/search")
    await page.locator("select[name=status]").select_option("resolved")
    await page.locator("select[name=category]").select_option("road_damage")
    await page.locator("#filters button[type=submit]").click()
    await page.wait_for_url("**status=resolved**")
    results = page.locator("#results tbody tr")
    await expect(results).to_have_count(1)
    await expect(results).to_contain_text(ticket_id)
    await expect(results).to_contain_text("已办结")
    await shoot(page, "search-desk")
    await page.set_viewport_size(PHONE)
    await shoot(page, "search-phone")
    await page.context.close()


@pytest.mark.timeout(300)
async def test_hotspot_warnings_arrive_live_for_the_street_only(
    console: tuple[ConsoleHarness, str], browser: Browser, module_servers: Servers
) -> None:
    _, base_url = console
    page = await log_in(browser, base_url, CENTRE, DESK)
    await page.goto(base_url + "/centre")
    await expect(page.locator("#live")).to_have_attribute("data-state", "live")
    nc = await nats.connect(module_servers.nats_url)
    try:
        js = nc.jetstream()
        for street, grid, ticket_id in (
            ("liuan", "LY-01", "T20260101000091"),
            ("qingshi", "HY-01", "T20260101000092"),
        ):
            await publish_event(
                js,
                HotspotDetected.about(
                    ticket_id=ticket_id,
                    correlation_id=f"c-{ticket_id}",
                    producer="supervision",
                    occurred_at=datetime.now(UTC),
                    grid_code=grid,
                    street=street,
                    category="road_damage",
                    count=6,
                    window_seconds=86_400,
                    threshold=5,
                ),
            )
    finally:
        await nc.close()
    item = page.locator("#hotspot-list li")
    await expect(item).to_have_count(1)  # 青石街道's only, without a reload
    await expect(item).to_contain_text("和园南网格")
    await expect(item).to_contain_text("T20260101000092")
    await expect(page.locator("#hotspot-count")).to_have_text("1")
    await shoot(page, "hotspot")
    await page.context.close()


async def assigned_to_grid(harness: ConsoleHarness, http: httpx.AsyncClient) -> str:
    """A waiting ticket the centre assigns (through intake, as its person) to 和园社区网格站."""
    ticket_id = await waiting_ticket(harness, http)
    await harness.console.intake.post(
        f"/api/v1/tickets/{ticket_id}/assign",
        CENTRE,
        json={"lead": "grid-heyuan", "category": "road_damage", "whistle": "daily"},
    )
    await eventually(lambda: status_is(http, ticket_id, "dispatched"), "dispatched")
    return ticket_id


@pytest.mark.timeout(600)
async def test_a_decline_is_arbitrated_and_the_dispatch_upheld(
    console: tuple[ConsoleHarness, str], browser: Browser, http: httpx.AsyncClient
) -> None:
    harness, base_url = console
    ticket_id = await assigned_to_grid(harness, http)
    await harness.console.intake.post(
        f"/api/v1/tickets/{ticket_id}/decline",
        clerk("grid-heyuan"),
        json={"reason_code": "not_our_responsibility", "note": "不归网格站管"},
    )

    async def queued_again() -> bool:
        queue = await harness.console.intake.get("/api/v1/manual-queue", CENTRE)
        return ticket_id in {t["ticket_id"] for t in queue["tickets"]}

    await eventually(queued_again, "no other unit: back to the street to arbitrate")
    page = await log_in(browser, base_url, CENTRE, DESK)
    await page.goto(base_url + "/centre#arbitrate")
    case = page.locator(f"#arbitrate #q-{ticket_id}")
    await expect(case).to_contain_text("和园社区网格站 退单：不属于本单位职责（不归网格站管）")
    await expect(page.locator(f"#queue #q-{ticket_id}")).to_have_count(0)
    await shoot(page, "arbitrate")
    await case.locator("form[action$='/uphold'] button").click()
    await page.wait_for_url("**/centre?done=upheld**")

    async def back_with_the_grid() -> bool:
        found = await ticket(http, ticket_id)
        parts = {a["unit_id"] for a in found["assignments"] if a["active"]}
        return found["status"] == "dispatched" and parts == {"grid-heyuan"}

    await eventually(back_with_the_grid, "the dispatch upheld: the grid has it again")
    await page.context.close()


@pytest.mark.timeout(600)
async def test_an_extension_request_is_decided_on_the_page(
    console: tuple[ConsoleHarness, str], browser: Browser, http: httpx.AsyncClient
) -> None:
    harness, base_url = console
    ticket_id = await assigned_to_grid(harness, http)
    grid = clerk("grid-heyuan")
    await harness.console.intake.post(f"/api/v1/tickets/{ticket_id}/acknowledge", grid)
    await harness.console.intake.post(
        f"/api/v1/tickets/{ticket_id}/extension-requests",
        grid,
        json={"extra_hours": 24, "reason": "需要等材料到货"},
    )
    page = await log_in(browser, base_url, CENTRE, DESK)
    await page.goto(base_url + "/centre#extensions")
    form = page.locator(f"#extensions form[action='/centre/tickets/{ticket_id}/extension']")
    await expect(form).to_be_visible()
    await expect(page.locator("#extensions")).to_contain_text("申请延期 24.0 小时")
    await form.locator("input[name=reason]").fill("同意，请按期办结")
    await form.locator("button[value=approve]").click()
    await page.wait_for_url("**/centre?done=approved**")
    await expect(
        page.locator(f"#extensions form[action='/centre/tickets/{ticket_id}/extension']")
    ).to_have_count(0)
    found = await ticket(http, ticket_id)
    assert all(a["extension_requested_seconds"] is None for a in found["assignments"])
    approved = [h for h in found["history"] if h["type"] == "ExtensionApproved"]
    assert len(approved) == 1
    assert approved[0].get("person") == CENTRE.username  # intake names who decided
    await page.context.close()


@pytest.mark.timeout(600)
async def test_an_overdue_ticket_is_urged_from_the_page(
    console: tuple[ConsoleHarness, str],
    browser: Browser,
    http: httpx.AsyncClient,
    module_servers: Servers,
) -> None:
    harness, base_url = console
    ticket_id = await assigned_to_grid(harness, http)
    nc = await nats.connect(module_servers.nats_url)
    inbox = await nc.jetstream().subscribe("dept.grid-heyuan.urged.*", stream="UNITS")
    redis = Redis.from_url(module_servers.redis_url)
    try:
        await advance_shared_clock(redis, 3 * 86_400)  # far past the report-in deadline

        async def listed_overdue() -> bool:
            page = await harness.console.intake.get(
                "/api/v1/tickets", CENTRE, params={"overdue": "true"}
            )
            return ticket_id in {t["ticket_id"] for t in page["items"]}

        await eventually(listed_overdue, "intake lists it overdue")
        page = await log_in(browser, base_url, CENTRE, DESK)
        await page.goto(base_url + "/centre#overdue")
        form = page.locator(f"#overdue form[action='/centre/tickets/{ticket_id}/urge']")
        await expect(form).to_be_visible()
        await form.locator("select[name=unit_id]").select_option("grid-heyuan")
        await form.locator("input[name=note]").fill("请今天内到场处置")
        await form.locator("button[type=submit]").click()
        await page.wait_for_url("**/centre?done=urged**")
        await expect(page.locator("#done")).to_contain_text("已督办")
        await shoot(page, "urged")

        delivered = await inbox.next_msg(timeout=TIMEOUT)
        urged = TicketUrged.model_validate_json(delivered.data)
        assert (urged.ticket_id, urged.unit_id, urged.note) == (
            ticket_id,
            "grid-heyuan",
            "请今天内到场处置",
        )
        history = (await ticket(http, ticket_id))["history"]
        assert any(
            h["type"] == "TicketUrged" and "请今天内到场处置" in h["summary"] for h in history
        )
        await page.context.close()
    finally:
        await redis.aclose()
        await nc.close()


@pytest.mark.timeout(300)
async def test_a_district_and_the_city_open_their_centre(
    console: tuple[ConsoleHarness, str], http: httpx.AsyncClient
) -> None:
    harness, _ = console
    for username, role, scope, title in (
        ("district-yunxi-centre", PersonRole.DISTRICT, "yunxi", "云溪区 · 指挥中心"),
        ("city-centre", PersonRole.CITY, None, "全市 · 指挥中心"),
    ):
        await harness.account(username, role, scope)
        harness.http.cookies.clear()
        logged_in = await harness.login(username)
        assert logged_in.status_code == 303, logged_in.text
        for path, words in (("/centre", title), ("/centre/search", "工单查询")):
            page = await harness.http.get(path, headers={"Accept": "text/html"})
            assert page.status_code == 200, (username, path, page.text[:500])
            assert words in page.text
        # 青石街道's tickets are within both: the search lists them.
        listed = await harness.http.get("/centre/search", params={"street": "qingshi"})
        assert '<a href="/tickets/T' in listed.text
