"""The console as `make run` starts it: a process beside intake, with its key and the
shared person-token secret from the environment, adding the demo accounts on start. A
clerk logs in over HTTP and the workbench, read from intake as that clerk, opens."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from chuishao.embedded.services import ServiceProcesses as _ServiceProcesses
from support.servers import Servers
from support.stack import ServiceProcesses

pytestmark = pytest.mark.e2e

CLERK = {"username": "grid-heyuan", "password": "demo-password-1", "role": "clerk"}


@pytest.fixture(scope="module")
def console_stack(
    own_servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_ServiceProcesses]:
    data = tmp_path_factory.mktemp("console-data")
    accounts = data / "accounts.json"
    accounts.write_text(json.dumps([{**CLERK, "unit": "grid-heyuan"}]))
    log_dir: Path = tmp_path_factory.mktemp("console-logs")
    with ServiceProcesses.of(
        ("intake", "console"),
        own_servers.nats_url,
        own_servers.redis_url,
        log_dir,
        CHUISHAO_CONSOLE_SEED_ACCOUNTS=str(accounts),
    ) as services:
        yield services


def log_in(http: httpx.Client) -> httpx.Response:
    http.get("/login")
    form = {**CLERK, "csrf_token": http.cookies["chuishao_csrf"]}
    return http.post("/login", data=form)


def test_a_demo_clerk_logs_in_and_reads_the_units_queue(
    own_servers: Servers, console_stack: ServiceProcesses
) -> None:
    # The accounts are added in the background after start (wrong logins until then
    # would count towards the throttle, so the test waits for the account itself).
    store = redis.Redis.from_url(own_servers.redis_url)
    deadline = time.monotonic() + 60
    try:
        while not store.hexists("console:accounts", CLERK["username"]):
            assert time.monotonic() < deadline, console_stack.log("console")
            time.sleep(0.1)
    finally:
        store.close()
    with httpx.Client(base_url=console_stack.console_url, timeout=10) as http:
        answer = log_in(http)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/clerk"
        page = http.get("/clerk", headers={"Accept": "text/html"})
        assert page.status_code == 200, page.text + console_stack.log("console")
        assert "grid-heyuan" in page.text
