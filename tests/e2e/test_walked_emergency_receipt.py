"""Issue 13: a danger found by triage makes the ticket an emergency, and its resident's
messages are no longer held by quiet hours (walked through the running stack, at night
for notify: quiet hours cover the whole day here)."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from chuishao.notify.channels.recorder import read_recorded
from support.intake import OPERATOR
from support.servers import Servers
from support.stack import ServiceProcesses, post_report_when_ready

pytestmark = pytest.mark.e2e
TIMEOUT = 30.0


@pytest.fixture(scope="module")
def stack(own_servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    env = {
        "CHUISHAO_QUIET_HOURS_START": "00:00",
        "CHUISHAO_QUIET_HOURS_END": "23:59",
        "CHUISHAO_SWEEP_INTERVAL_SECONDS": "0.5",
    }
    log_dir: Path = tmp_path_factory.mktemp("quiet-logs")
    with ServiceProcesses(own_servers.nats_url, own_servers.redis_url, log_dir, **env) as s:
        yield s


async def submit(http: httpx.AsyncClient, description: str, phone: str) -> str:
    body = {
        "description": description,
        "location": {"address": "和园小区 A-160", "grid_code": "HY-01"},
        "channel": "hotline_12345",
        "reporter": {"phone": phone},
    }
    response = await post_report_when_ready(http, body, tries=300)
    assert response.status_code == 201, response.text
    return str(response.json()["ticket_id"])


async def test_a_gas_leak_found_by_triage_is_an_emergency_and_its_receipt_is_not_held(
    stack: ServiceProcesses, own_servers: Servers
) -> None:
    redis = Redis.from_url(own_servers.redis_url)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as http:
        ordinary = await submit(http, "和园小区路灯不亮了", "13800000001")
        gas = await submit(http, "和园小区门口燃气泄漏，闻到很大的煤气味", "13800000002")
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while not [e for e in await read_recorded(redis, gas) if e.template == "receipt"]:
            assert asyncio.get_running_loop().time() < deadline, "the receipt was held"
            await asyncio.sleep(0.2)
        ticket = (await http.get(f"/api/v1/tickets/{gas}", headers=OPERATOR)).json()
        assert (ticket["category"], ticket["priority"]) == ("emergency_hazard", "emergency")
    # Quiet hours are on: the ordinary report's receipt is still held.
    assert not [e for e in await read_recorded(redis, ordinary) if e.template == "receipt"]
    await redis.aclose()
