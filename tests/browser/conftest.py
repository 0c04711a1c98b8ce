from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from support.browser import chromium
from support.console import ConsoleHarness, serving_console
from support.servers import Servers, real_servers
from support.stack import ServiceProcesses


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def _module_name(request: pytest.FixtureRequest) -> str:
    return str(request.module.__name__).rsplit(".", 1)[-1]


@pytest.fixture(scope="module")
def module_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    """nats-server and redis-server of the module's own."""
    with real_servers(tmp_path_factory.mktemp(f"{_module_name(request)}-servers")) as running:
        yield running


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest,
    module_servers: Servers,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcesses]:
    """The services as processes on the module's servers, with the tests' keys, the
    console's key and the resident-link secret (settings_env) and the module's own
    STACK_ENV, if it has one."""
    log_dir: Path = tmp_path_factory.mktemp(f"{_module_name(request)}-logs")
    env: dict[str, str] = getattr(request.module, "STACK_ENV", {})
    with ServiceProcesses(module_servers.nats_url, module_servers.redis_url, log_dir, **env) as s:
        yield s


@pytest.fixture(scope="module")
async def console(
    request: pytest.FixtureRequest, module_servers: Servers, stack: ServiceProcesses
) -> AsyncIterator[tuple[ConsoleHarness, str]]:
    """The console on the module's stack, with the module's CONSOLE_ACCOUNTS (username,
    role, scope) and CONSOLE_SETTINGS, on a real port: (harness, its URL)."""
    accounts = request.module.CONSOLE_ACCOUNTS
    settings = getattr(request.module, "CONSOLE_SETTINGS", {})
    async with serving_console(module_servers, stack.base_url, accounts, **settings) as running:
        yield running
