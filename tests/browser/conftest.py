from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from support.browser import chromium


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched
