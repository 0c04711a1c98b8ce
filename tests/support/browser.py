"""What the browser tests share: headless Chromium (Debian's, driven by playwright) and
a bounded wait."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import Browser, Locator, async_playwright

from e2e.test_supervision_page import CHROMIUM, FLAGS, ensure_chromium

TIMEOUT = 30.0


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    ensure_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        yield launched
        await launched.close()


async def eventually(
    check: Callable[[], Awaitable[Any]], what: str, timeout: float = TIMEOUT
) -> Any:
    """`check()`'s first truthy answer within `timeout` (bounded; no fixed sleeps)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (answer := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.1)
    return answer


# Resolves once the image has loaded (True) or failed (False). Evaluated in one turn of
# the page's event loop, so a load cannot slip between the check and the listeners.
_LOADED = """img => img.complete
  ? img.naturalWidth > 0
  : new Promise(done => {
      img.addEventListener("load", () => done(img.naturalWidth > 0), {once: true});
      img.addEventListener("error", () => done(false), {once: true});
    })"""


async def image_shown(image: Locator) -> bool:
    """Whether the image loads and has pixels. A `loading="lazy"` image is fetched only
    near the viewport and after the page's load event (a test that read `complete` at
    once failed beside a busy core): it is scrolled to and waited for."""
    await image.scroll_into_view_if_needed()
    return bool(await image.evaluate(_LOADED))
