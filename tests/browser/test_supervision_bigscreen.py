"""The command-centre page as the big screen (issue 19) in headless Chromium at 1920×1080:
the district map with its legend, the units ranked by composite score and the whistle
ticker fill the first screen in large type; a new whistle reaches the ticker through the
page's live stream; on a phone nothing is wider than the screen. Screenshots in
artifacts/screenshots/board-bigscreen.png and board-phone.png."""

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from playwright.async_api import Browser, FloatRect, Page

from chuishao.common.domain import Whistle
from chuishao.supervision.display import DisplayTokens
from support.bigscreen import HOTSPOT_GRID, HOTSPOT_SETTINGS, busy_district, ending_before
from support.servers import Servers
from support.supervision import Script, running_supervision, serving

pytestmark = pytest.mark.usefixtures("clean")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


async def box_of(page: Page, selector: str) -> FloatRect:
    """Where the element is drawn. The live board swaps its sections every 0.3 s here, and
    an element read in the middle of a swap is detached (no box): read the new one."""
    for _ in range(40):
        if (box := await page.locator(selector).bounding_box()) is not None:
            return box
        await asyncio.sleep(0.05)
    raise AssertionError(f"{selector} is not on the page")


async def test_the_big_screen_at_1920x1080_and_on_a_phone(
    servers: Servers, js: JetStreamContext, browser: Browser
) -> None:
    async with running_supervision(
        servers.nats_url,
        servers.redis_url,
        js,
        board_refresh_seconds=0.3,
        log_level="WARNING",
        **HOTSPOT_SETTINGS,
    ) as supervision:
        events = ending_before(busy_district().events)
        await supervision.publish(events)
        await supervision.until_applied(events)
        token, _ = await DisplayTokens(supervision.service.redis).new("district", "yunxi")
        async with serving(supervision.app) as base_url:
            page = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await page.emulate_media(reduced_motion="reduce")  # a still ticker to look at
            await page.goto(base_url + "/?token=" + token)
            await page.wait_for_function(
                "document.getElementById('live').textContent.includes('live')"
            )
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / "board-bigscreen.png"))
            # The map, the ranking and the ticker are all on the first screen.
            for part in ("#map svg.map", "#map-legend", "#units table", "#ticker"):
                box = await box_of(page, part)
                assert box["y"] >= 0, (part, box)
                assert box["y"] + box["height"] <= 1080, (part, box)
            mark = page.locator(f'svg.map g.mark.hotspot[data-code="{HOTSPOT_GRID}"]')
            assert await mark.count() == 1
            # Large type: the ranking's rows read from across a room.
            size = await page.evaluate(
                "getComputedStyle(document.querySelector('#units td.rank')).fontSize"
            )
            assert float(size.removesuffix("px")) >= 20, size
            assert await page.locator("#units tr[data-rank='1'] td.rank").first.inner_text() == "1"
            assert "协同哨" in await page.locator("#ticker").inner_text()

            # A whistle is blown: the ticker shows it without a reload.
            news = Script("W")
            news.submit("A", 0, "emergency_hazard", "SQ-02")
            news.whistle("A", 0.01, Whistle.EMERGENCY, "xiaofang-yunxi", "cg-yunxi")
            await supervision.publish(ending_before(news.events, gap=timedelta(minutes=1)))
            await page.wait_for_function(
                "document.getElementById('ticker').innerText.includes('应急哨')"
                " && document.getElementById('ticker').innerText.includes('WA')",
                timeout=10_000,
            )
            await page.screenshot(path=str(SHOTS / "board-bigscreen.png"))

            await page.set_viewport_size({"width": 390, "height": 844})
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390
            await page.screenshot(path=str(SHOTS / "board-phone.png"), full_page=True)
            await page.close()
