"""What the browser tests share: headless Chromium (Debian's, driven by playwright) and
a bounded wait."""

import asyncio
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, async_playwright

from support.intake import OPERATOR

CHROMIUM = Path("/usr/bin/chromium")
# A CJK font, so the screenshot shows 响应率 rather than empty boxes.
PACKAGES = {"chromium": CHROMIUM, "fonts-wqy-microhei": Path("/usr/share/fonts/truetype/wqy")}
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


APT_LOCK = Path(tempfile.gettempdir()) / "chuishao-apt-get.lock"


def ensure_chromium() -> None:
    """Debian's chromium, installed here only when missing and only where apt-get may run
    (CI runs as root); elsewhere the test is skipped, except on CI, where it fails."""
    missing = [name for name, path in PACKAGES.items() if not path.exists()]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        message = f"needs Debian packages {missing} (apt-get install -y {' '.join(missing)})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Both test workers may get here at once on a fresh machine; the second apt-get
    # would fail on dpkg's lock (exit 100). One installs, the other waits and finds it.
    with open(APT_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = [name for name, path in PACKAGES.items() if not path.exists()]
        if not missing:
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", *missing], check=True, env=env, timeout=600
        )


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


async def ticket(http: httpx.AsyncClient, ticket_id: str) -> dict[str, Any]:
    """The ticket as the hotline's operator reads it from intake at `http`."""
    response = await http.get(f"/api/v1/tickets/{ticket_id}", headers=OPERATOR)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def status_is(http: httpx.AsyncClient, ticket_id: str, status: str) -> bool:
    return bool((await ticket(http, ticket_id))["status"] == status)
