"""The command-centre page in headless Chromium (Debian's package, driven by Playwright;
no browser download): without a credential it asks for one; a wall screen's display
token opens it (and becomes a cookie the live stream uses); it shows the scripted day's
data with names instead of codes, updates live when an emergency whistle is blown, and
leaves a screenshot in artifacts/command-centre.png."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from playwright.async_api import Browser

from chuishao.common.domain import Whistle
from chuishao.supervision.display import DisplayTokens
from support.browser import chromium
from support.servers import Servers
from support.supervision import Script, running_supervision, scripted_day, serving

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean")]

ARTIFACT = Path(__file__).resolve().parents[2] / "artifacts" / "command-centre.png"
SIGN_IN = ARTIFACT.with_name("command-centre-sign-in.png")
ONE_STREET = ARTIFACT.with_name("command-centre-qingshi.png")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


# The first run on a fresh machine installs chromium with apt-get: allow for it.
@pytest.mark.timeout(900)
async def test_the_page_shows_the_data_and_updates_live(
    servers: Servers, js: JetStreamContext, browser: Browser
) -> None:
    async with running_supervision(
        servers.nats_url, servers.redis_url, js, board_refresh_seconds=0.3, log_level="WARNING"
    ) as supervision:
        day = scripted_day().events
        await supervision.publish(day)
        await supervision.until_applied(day)
        token, _ = await DisplayTokens(supervision.service.redis).new("district", "yunxi")
        async with serving(supervision.app) as base_url:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            refused = await page.goto(base_url + "/")
            assert refused is not None
            assert refused.status == 401
            assert await page.locator("#credential").count() == 1  # the sign-in form
            ARTIFACT.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(SIGN_IN))
            await page.goto(base_url + "/?token=" + token)
            assert "token" not in page.url  # exchanged for an HttpOnly cookie
            assert await page.locator("#scope").inner_text() == "云溪区"
            # Server-rendered: the data is there before any script runs.
            assert await page.locator("#rate-response .n").inner_text() == "83.3%"  # 5/6
            assert await page.locator("#rate-satisfaction .n").inner_text() == "75.0%"  # 3/4
            assert await page.locator("#overdue-count .n").inner_text() == "1"
            overdue = await page.locator("#overdue").inner_text()
            assert "SD" in overdue
            assert "青石街道社会治理指挥中心" in overdue  # names, not unit ids
            assert "和园南网格" in overdue
            assert "qingshi" not in overdue
            assert "协同哨" in await page.locator("#whistles").inner_text()
            await page.wait_for_function(
                "document.getElementById('live').textContent.includes('live')"
            )

            # A grid leader phones in a road surface bursting and smoking: 应急哨.
            news = Script("X")
            news.submit("A", 60, "emergency_hazard", "HY-01")
            news.whistle(
                "A", 60.01, Whistle.EMERGENCY, "xiaofang-yunxi", "cg-yunxi", "zhujian-yunxi"
            )
            await supervision.publish(news.events)
            # The board's parts are read one after another, not in one snapshot: a frame
            # can show the whistle a moment before the count that includes its ticket, and
            # the next frame shows both. Wait for both.
            await page.wait_for_function(
                "document.getElementById('whistles').innerText.includes('XA')"
                " && document.querySelector('#state-submitted .n').innerText === '1'",
                timeout=10_000,
            )
            whistles = await page.locator("#whistles").inner_text()
            assert "应急哨" in whistles
            assert "云溪区消防救援支队" in whistles
            assert "xiaofang-yunxi" not in whistles
            assert await page.locator("#state-submitted .n").inner_text() == "1"  # the new one

            await page.screenshot(path=str(ARTIFACT), full_page=True)

            # The street link opens that street's own view: its tickets only.
            await page.locator("#street-qingshi a").click()
            await page.wait_for_url("**street=qingshi**")
            assert await page.locator("#scope").inner_text() == "青石街道"
            assert "XA" not in await page.locator("#whistles").inner_text()  # no street yet
            assert "SD" in await page.locator("#overdue").inner_text()
            await page.screenshot(path=str(ONE_STREET), full_page=True)
            await page.close()
    assert ARTIFACT.stat().st_size > 30_000  # a page with tables, not a blank one
