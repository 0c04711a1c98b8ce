"""The residents' pages in headless Chromium at a phone's size, against the real stack
(intake, router, sla, notify, supervision as processes; the console in-process).

A resident reports a neighbours' quarrel with a photo and a pin on the offline map; the
receipt SMS (notify's outbox channel) links to the ticket's page; the grid station signs
off with an evidence photo; the resident opens the link, sees that photo, rates 不满意
with a comment and the ticket goes back to the same unit. The link of one ticket opens
no other. A 12345 operator files for a caller, finds the caller's earlier ticket, and works
the callback list: shows the number, records a call without answer, then the rating.
Screenshots: artifacts/screenshots/resident-*.png and hotline-*.png.
"""

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize
from redis.asyncio import Redis

from browser.test_console_clerk import evidence_jpeg
from chuishao.common.roles import PersonRole
from chuishao.notify.channels.recorder import read_recorded
from support.browser import TIMEOUT, eventually, image_shown, ticket
from support.console import PASSWORD, ConsoleHarness
from support.intake import OPERATOR, auth
from support.servers import Servers
from support.stack import ServiceProcesses

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PHONE = ViewportSize(width=390, height=844)
DESK = ViewportSize(width=1366, height=900)
UNIT = "grid-heyuan"
GRID = "HY-01"  # 和园南网格, the grid station's own
# No quiet hours: from 22:00 in Beijing (14:00 UTC) the receipt would be held until
# morning and the test would wait for it in vain (it failed so at 14:03 UTC).
STACK_ENV = {"CHUISHAO_QUIET_HOURS_START": "00:00", "CHUISHAO_QUIET_HOURS_END": "00:00"}
CONSOLE_ACCOUNTS = [("op-wang", PersonRole.OPERATOR, None), ("kb-admin", PersonRole.ADMIN, None)]


@pytest.fixture
async def http(stack: ServiceProcesses) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=TIMEOUT) as client:
        yield client


async def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"resident-{name}.png"), full_page=True)


async def ready(http: httpx.AsyncClient) -> None:
    """Until intake has the router's catalogue (the form lists it; a report needs it)."""

    async def loaded() -> bool:
        response = await http.get("/open311/v2/services.json")
        return response.status_code == 200 and len(response.json()) > 10

    await eventually(loaded, "the catalogue reached intake")


async def sign_off_with_a_photo(http: httpx.AsyncClient, ticket_id: str) -> None:
    """Every summoned unit reports for duty and signs off (their API); the grid station,
    the lead, with an evidence photo. The last sign-off resolves the ticket."""
    units = [a["unit_id"] for a in (await ticket(http, ticket_id))["assignments"] if a["active"]]
    assert UNIT in units, units
    for unit_id in units:
        acknowledged = await http.post(
            f"/api/v1/tickets/{ticket_id}/acknowledge", headers=auth(unit_id)
        )
        assert acknowledged.status_code == 200, (unit_id, units, acknowledged.text)
    uploaded = await http.post(
        f"/api/v1/tickets/{ticket_id}/photos",
        headers=auth(UNIT),
        files={"photo": ("after.jpg", evidence_jpeg(), "image/jpeg")},
        data={"purpose": "evidence"},
    )
    assert uploaded.status_code == 201, uploaded.text
    for unit_id in sorted(units, key=lambda u: u == UNIT):  # the lead last
        evidence = [uploaded.json()["url"]] if unit_id == UNIT else []
        resolved = await http.post(
            f"/api/v1/tickets/{ticket_id}/resolve",
            headers=auth(unit_id),
            json={"note": "已上门调解，双方约定晚十点后不再施工", "evidence_urls": evidence},
        )
        assert resolved.status_code == 200, resolved.text


@pytest.mark.timeout(300)
async def test_a_resident_reports_follows_and_rates_from_a_phone(
    console: tuple[ConsoleHarness, str],
    browser: Browser,
    http: httpx.AsyncClient,
    module_servers: Servers,
    tmp_path: Path,
) -> None:
    _, base_url = console
    await ready(http)
    photo = tmp_path / "before.jpg"
    photo.write_bytes(evidence_jpeg())
    context = await browser.new_context(viewport=PHONE, locale="zh-CN", has_touch=True)
    page = await context.new_page()

    await page.goto(base_url + "/r")
    await page.fill("#category-filter", "邻里")  # the list filters as one types
    assert await page.locator("#category").input_value() == "neighbour_dispute"
    await page.fill("textarea[name=description]", "楼上邻居每天半夜装修敲墙，沟通无果")
    # A tap in the middle of the grid's outline (its inside is the street's to the
    # pointer: the grid draws only its edge).
    box = await page.locator(f"svg.map polygon.grid[data-code='{GRID}']").bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert await page.locator("#lat").input_value()  # the tap became a point
    await page.set_input_files("input[name=photos]", str(photo))
    await page.fill("input[name=phone]", "13900002222")
    await shoot(page, "report")
    await page.click("#submit")
    await page.wait_for_url(re.compile(r".*/r/T\d+\?.*new=1.*"))
    await page.wait_for_selector("#done")
    ticket_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    token = parse_qs(urlsplit(page.url).query)["t"][0]
    mine = page.locator("#report-photos img")
    assert await mine.count() == 1
    assert await image_shown(mine)
    await shoot(page, "filed")

    # Filed as a snap-it report at the tapped point, placed in the grid, with the photo.
    filed = await eventually(
        lambda: _dispatched(http, ticket_id), "the router sent it to the grid station"
    )
    assert filed["channel"] == "snap_it"
    assert filed["location"]["lat"] is not None
    assert [p["purpose"] for p in filed["photos"]] == ["report"]

    # The receipt SMS links to this page with the same token.
    redis = Redis.from_url(module_servers.redis_url)
    try:
        messages = await eventually(
            lambda: read_recorded(redis, ticket_id), "the receipt reached the outbox"
        )
    finally:
        await redis.aclose()
    link = re.search(r"https?://\S+/r/" + ticket_id + r"\?t=[\w-]+", messages[0].text)
    assert link, messages[0].text
    assert parse_qs(urlsplit(link.group(0)).query)["t"] == [token]

    await sign_off_with_a_photo(http, ticket_id)
    await page.goto(f"{base_url}/r/{ticket_id}?t={token}")
    assert await page.locator("#status").inner_text() == "已办结"
    evidence = page.locator("#evidence-photos img")
    assert await evidence.count() == 1
    assert await image_shown(evidence)
    await shoot(page, "resolved")

    await page.fill("#rate textarea[name=comment]", "晚上还是很吵")
    await page.click("#rate button[value=不满意]")
    await page.wait_for_url(re.compile(r".*done=rated.*"))
    await shoot(page, "rated")
    reopened = await ticket(http, ticket_id)
    assert reopened["rating"] == "unsatisfied"
    assert reopened["reopen_count"] == 1
    assert reopened["status"] in ("dispatched", "in_progress")
    back = [a for a in reopened["assignments"] if a["active"] and a["role"] == "lead"]
    assert [a["unit_id"] for a in back] == [UNIT]  # the same unit, again
    rated = [h for h in reopened["history"] if h["type"] == "TicketRated"]
    assert len(rated) == 1
    await context.close()


async def log_in(browser: Browser, base_url: str, username: str) -> Page:
    page = await (await browser.new_context(viewport=DESK, locale="zh-CN")).new_page()
    await page.goto(base_url + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    return page


async def _dispatched(http: httpx.AsyncClient, ticket_id: str) -> dict[str, Any] | None:
    found = await ticket(http, ticket_id)
    units = {a["unit_id"] for a in found["assignments"]}
    return found if UNIT in units else None


async def test_one_tickets_link_opens_no_other(
    console: tuple[ConsoleHarness, str], browser: Browser, http: httpx.AsyncClient
) -> None:
    _, base_url = console
    await ready(http)
    filed = []
    for words in ("小区门口路灯不亮", "垃圾桶满了没人清"):
        response = await http.post(
            "/api/v1/reports",
            json={"description": words, "location": {"grid_code": GRID}, "channel": "snap_it"},
        )
        assert response.status_code == 201, response.text
        filed.append(response.json())
    x, y = filed
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    page = await context.new_page()
    own = await page.goto(f"{base_url}/r/{x['ticket_id']}?t={x['resident_token']}")
    assert own is not None
    assert own.status == 200
    other = await page.goto(f"{base_url}/r/{y['ticket_id']}?t={x['resident_token']}")
    assert other is not None
    assert other.status == 403
    text = await page.locator("main").inner_text()
    assert "链接无效" in text
    assert y["ticket_id"] not in text
    assert "垃圾桶" not in text
    await shoot(page, "wrong-link")
    # A link cut short (an SMS app clipped it): the resident's words, not a form error
    # or intake's message about API keys.
    for cut in (f"/r/{x['ticket_id']}", f"/r/{x['ticket_id']}?t="):
        clipped = await page.goto(base_url + cut)
        assert clipped is not None
        assert clipped.status == 403, cut
        text = await page.locator("main").inner_text()
        assert "链接无效" in text, (cut, text)
        assert "API" not in text, (cut, text)
        assert "表单" not in text, (cut, text)
    await context.close()


async def test_a_double_tap_files_one_report_and_a_bad_form_none(
    console: tuple[ConsoleHarness, str], http: httpx.AsyncClient
) -> None:
    harness, _ = console
    await ready(http)
    form_page = await harness.http.get("/r", headers={"Accept": "text/html"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form_page.text)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form_page.text)
    assert csrf
    assert key
    fields = {
        "csrf_token": csrf.group(1),
        "idempotency_key": key.group(1),
        "description": "井盖松动，踩上去晃",
        "address": "和园小区北门",
    }
    answers = [
        await harness.http.post("/r", data=fields, headers={"Accept": "text/html"})
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [303, 303]
    first, second = (a.headers["location"].split("?")[0] for a in answers)
    assert first == second  # one ticket for two taps

    before = await http.get("/api/v1/tickets", headers=OPERATOR)
    without_place = {**fields, "idempotency_key": "another-key", "address": ""}
    refused = await harness.http.post("/r", data=without_place, headers={"Accept": "text/html"})
    assert refused.status_code == 422
    assert "请在地图上点选位置，或填写地址" in refused.text
    assert "井盖松动" in refused.text  # the form comes back filled in
    after = await http.get("/api/v1/tickets", headers=OPERATOR)
    assert len(after.json()["items"]) == len(before.json()["items"])  # nothing filed


@pytest.mark.timeout(300)
async def test_an_operator_files_for_a_caller_and_works_the_callbacks(
    console: tuple[ConsoleHarness, str], browser: Browser, http: httpx.AsyncClient
) -> None:
    _, base_url = console
    await ready(http)
    caller = "13600003333"
    context = await browser.new_context(viewport=DESK, locale="zh-CN")
    page = await context.new_page()
    await page.goto(base_url + "/login")
    await page.fill("input[name=username]", "op-wang")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r".*/hotline.*"))

    # A call: filed for the caller, at an address the directory knows.
    await page.fill("#file input[name=name]", "孙女士")
    await page.fill("#file input[name=phone]", caller)
    await page.fill("#category-filter", "邻里")
    await page.fill("#file textarea[name=description]", "楼上每晚十二点后还在装修，已经持续一周")
    await page.fill("#file input[name=address]", "和园小区3号楼")
    # Where the directory places it, under the input, once typing pauses.
    placed = page.locator("#place-line", has_text="定位：青石街道 · 和园社区")
    await placed.wait_for(state="visible")
    assert await placed.get_attribute("aria-live") == "polite"
    await page.click("#file-submit")
    await page.wait_for_url(re.compile(r".*done=filed.*"))
    ticket_id = parse_qs(urlsplit(page.url).query)["ticket"][0]
    assert ticket_id in await page.locator("#done").inner_text()
    filed = await ticket(http, ticket_id)
    assert filed["channel"] == "hotline_12345"
    assert any(h.get("person") == "op-wang" for h in filed["history"])

    # The next call from the same number: the earlier ticket is there.
    await page.fill("#lookup input[name=phone]", caller)
    await page.click("#lookup button[type=submit]")
    await page.wait_for_selector("#history")
    assert ticket_id in await page.locator("#history").inner_text()
    await shoot(page, "hotline-lookup")

    # Resolved by the units: it joins the callback list.
    await eventually(lambda: _dispatched(http, ticket_id), "the router sent it to the grid station")
    await sign_off_with_a_photo(http, ticket_id)
    await page.goto(base_url + "/hotline#callbacks")
    row = page.locator(f"#cb-{ticket_id}")
    await row.locator("button.show-number").click()
    await page.wait_for_selector(f"#cb-{ticket_id} .number")
    assert caller in await page.locator(f"#cb-{ticket_id} .number").inner_text()
    await shoot(page, "hotline-callbacks")
    await page.locator(f"#cb-{ticket_id} button[value=no_answer]").click()
    await page.wait_for_url(re.compile(r".*done=attempted.*"))
    assert "1 次" in await page.locator(f"#cb-{ticket_id}").inner_text()
    await page.locator(f"#cb-{ticket_id} input[name=comment]").fill("噪音已经停了")
    await page.locator(f"#cb-{ticket_id} button[value=满意]").click()
    await page.wait_for_url(re.compile(r".*done=rated.*"))
    assert await page.locator(f"#cb-{ticket_id}").count() == 0
    closed = await ticket(http, ticket_id)
    assert (closed["status"], closed["rating"], closed["callback_attempts"]) == (
        "closed",
        "satisfied",
        1,
    )
    await context.close()


@pytest.mark.timeout(300)
async def test_an_operator_answers_a_call_from_the_knowledge_base(
    console: tuple[ConsoleHarness, str], browser: Browser, http: httpx.AsyncClient
) -> None:
    _, base_url = console
    await ready(http)
    # An admin keeps the entry: written once, then corrected (version 2).
    admin = await log_in(browser, base_url, "kb-admin")
    await admin.goto(base_url + "/admin/knowledge")
    await admin.select_option("#edit select[name=category]", "heating")
    await admin.fill("#edit input[name=question]", "今年什么时候开始供暖？")
    await admin.fill("#edit textarea[name=answer]", "本市供暖季为每年11月15日起。")
    await admin.click("#edit button[type=submit]")
    await admin.wait_for_url(re.compile(r".*/admin/knowledge/kb-.*saved=1"))
    await admin.fill("#edit textarea[name=answer]", "本市供暖季为每年11月15日至次年3月15日。")
    await admin.click("#edit button[type=submit]")
    await admin.wait_for_url(re.compile(r".*saved=2"))
    assert await admin.locator("#versions li").count() == 2
    await shoot(admin, "knowledge-admin")
    await admin.context.close()

    page = await log_in(browser, base_url, "op-wang")
    await page.goto(base_url + "/hotline?kb=供暖#kb")
    entry = page.locator(".kb-entry").first
    assert "3月15日" in await entry.locator(".answer").inner_text()  # the latest version
    await entry.locator("input[name=phone]").fill("13500004444")
    await shoot(page, "hotline-knowledge")
    await entry.locator("button[type=submit]").click()
    await page.wait_for_url(re.compile(r".*done=answered.*"))
    ticket_id = parse_qs(urlsplit(page.url).query)["ticket"][0]
    answered = await ticket(http, ticket_id)
    assert answered["status"] == "closed"
    assert answered["assignments"] == []  # never dispatched
    assert answered["channel"] == "hotline_12345"
    await page.context.close()


async def test_the_form_says_when_someone_has_reported_it_already(
    console: tuple[ConsoleHarness, str], browser: Browser, http: httpx.AsyncClient
) -> None:
    _, base_url = console
    await ready(http)
    context = await browser.new_context(viewport=PHONE, locale="zh-CN", has_touch=True)
    page = await context.new_page()
    await page.goto(base_url + "/r")
    await page.select_option("#category", "road_damage")
    box = await page.locator("svg.map polygon.grid[data-code='LY-01']").bounding_box()
    assert box is not None
    spot = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.click(*spot)
    lat, long = await page.locator("#lat").input_value(), await page.locator("#long").input_value()
    assert await page.locator("#duplicate").is_hidden()  # nobody reported it yet

    earlier = await http.post(
        "/api/v1/reports",
        json={
            "category": "road_damage",
            "description": "路中间一个大坑",
            "location": {"lat": float(lat), "long": float(long)},
            "channel": "snap_it",
        },
    )
    assert earlier.status_code == 201, earlier.text
    await page.mouse.click(*spot)  # the same spot again
    notice = page.locator("#duplicate")
    await notice.wait_for(state="visible")
    text = await notice.inner_text()
    assert "已有人反映" in text
    assert earlier.json()["ticket_id"] in text
    assert "大坑" not in text  # nothing of what the other resident wrote
    await shoot(page, "duplicate")
    await context.close()


async def test_the_form_suggests_categories_and_the_emergency_line_as_one_types(
    console: tuple[ConsoleHarness, str], browser: Browser, http: httpx.AsyncClient
) -> None:
    """Triage's best categories appear under the words (the router answers), one tap picks
    one; words that tell of a life at risk bring the emergency line."""
    _, base_url = console
    await ready(http)
    context = await browser.new_context(viewport=PHONE, locale="zh-CN", has_touch=True)
    page = await context.new_page()
    await page.goto(base_url + "/r")
    assert await page.locator("#triage").is_hidden()
    await page.fill("textarea[name=description]", "楼道里燃气味很浓，邻居老人晕倒在门口了")
    danger = page.locator("#danger")
    await danger.wait_for(state="visible")
    assert "如有生命危险请立即拨打 119" in await danger.inner_text()
    await page.locator("#triage button.suggestion").first.wait_for(state="visible")
    await shoot(page, "danger")
    await page.fill("textarea[name=description]", "小区门口的路灯坏了好几天，晚上一片漆黑")
    await danger.wait_for(state="hidden")
    first = page.locator("#triage button.suggestion").first
    await first.wait_for(state="visible")
    assert (await first.get_attribute("data-category")) == "street_light"
    assert "路灯损坏" in await first.inner_text()
    await first.tap()
    assert await page.locator("#category").input_value() == "street_light"
    assert await first.get_attribute("aria-pressed") == "true"
    await shoot(page, "suggestion")
    # The address line: a place the directory knows, then one it does not.
    line = page.locator("#place-line")
    assert await line.is_hidden()
    await page.fill("input[name=address]", "和园小区北门")
    await page.locator("#place-line", has_text="定位：青石街道 · 和园社区").wait_for()
    await shoot(page, "place-line")
    await page.fill("input[name=address]", "火星路999号")
    await page.locator("#place-line", has_text="未能按地址定位").wait_for()
    await context.close()
