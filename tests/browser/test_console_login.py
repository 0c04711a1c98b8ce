"""Logging in to the console in headless Chromium (Debian's package, as
tests/e2e/test_supervision_page.py drives it): the login page on a phone and a desk, a
form posted without its CSRF token refused, five wrong passwords throttled with a clear
message, an admin's login to the accounts page and the logout. Screenshots go to
artifacts/screenshots/console-login-*.png."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize

from chuishao.common.roles import PersonRole
from support.console import PASSWORD, ConsoleHarness, running_console
from support.servers import Servers
from support.supervision import serving

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean")]

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PHONE = ViewportSize(width=390, height=844)
DESK = ViewportSize(width=1366, height=900)


@pytest.fixture
async def console(servers: Servers) -> AsyncIterator[tuple[ConsoleHarness, str]]:
    async with running_console(servers.nats_url, servers.redis_url) as harness:
        await harness.account("admin", PersonRole.ADMIN)
        await harness.account("wang", PersonRole.CLERK, "grid-heyuan")
        async with serving(harness.app) as base_url:
            yield harness, base_url


async def log_in(page: Page, username: str, password: str) -> None:
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


async def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"console-login-{name}.png"), full_page=True)


@pytest.mark.timeout(900)  # a fresh machine installs chromium first
async def test_login_throttle_csrf_and_logout(
    browser: Browser, console: tuple[ConsoleHarness, str]
) -> None:
    _, base_url = console
    phone = await browser.new_page(viewport=PHONE)
    await phone.goto(f"{base_url}/admin")
    assert phone.url.endswith("/login?next=/admin")
    assert await phone.locator("h1").inner_text() == "登录工作台"
    await shoot(phone, "phone")

    # A form whose CSRF token was taken out is refused, and says what to do.
    await phone.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    await log_in(phone, "admin", PASSWORD)
    assert "表单已过期" in await phone.locator(".alert").inner_text()
    await shoot(phone, "csrf-refused")
    await phone.close()

    # Five wrong passwords: the fifth locks the username, and then the right one is refused.
    page = await browser.new_page(viewport=DESK)
    await page.goto(f"{base_url}/login")
    for attempt in range(5):
        await log_in(page, "wang", f"wrong-{attempt}")
    assert "锁定" in await page.locator(".alert").inner_text()
    await log_in(page, "wang", PASSWORD)
    assert page.url.endswith("/login")
    message = await page.locator(".alert").inner_text()
    assert "密码错误次数过多" in message
    await shoot(page, "throttled")

    # Another person is not locked out by wang's lock: the admin logs in.
    await page.goto(f"{base_url}/login?next=/admin")
    await log_in(page, "admin", PASSWORD)
    assert page.url == f"{base_url}/admin"
    assert await page.locator("h1").inner_text() == "账号管理"
    await shoot(page, "admin-desk")
    await page.click("text=退出")
    await page.wait_for_load_state()
    assert page.url.endswith("/login")
    await page.goto(f"{base_url}/admin")
    assert "/login" in page.url
    await page.close()

    # On a phone: the admin adds a street's command centre; only the street is asked for.
    phone = await browser.new_page(viewport=PHONE)
    await phone.goto(f"{base_url}/login")
    await log_in(phone, "admin", PASSWORD)
    await phone.fill("input[name=username]", "zhao")
    await phone.select_option("#role", "command_centre")
    assert await phone.locator("[data-scope=street]").is_visible()
    assert not await phone.locator("[data-scope=unit]").is_visible()
    await phone.locator("select[name=street]").evaluate(
        "s => { s.add(new Option('青石街道（qingshi）', 'qingshi')); s.value = 'qingshi'; }"
    )
    await phone.click("text=创建并生成密码")
    await phone.wait_for_load_state()
    assert "已创建账号 zhao" in await phone.locator(".notice").first.inner_text()
    password = await phone.locator("code.password").inner_text()
    assert len(password) >= 12
    await shoot(phone, "admin-phone")
    await phone.close()
