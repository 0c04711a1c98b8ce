"""`make demo` end to end, fast: the five services and the console (its residents' page
files one story's report) as processes on the shared clock, with `make run`'s keys for
every unit of the directory; the demo's command plays all the stories (52 stack hours)
with no pause, and the command centre ends with the numbers the stories must give.
/metrics answers on every service."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chuishao.devstack.credentials import intake_environment, local_keys
from chuishao.embedded.services import ServiceProcesses as AnyServices
from support.servers import Servers
from support.stack import WITH_CONSOLE, ServiceProcesses

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-data")


@pytest.fixture(scope="module")
def demo_stack(
    own_servers: Servers, keys_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AnyServices]:
    keys = local_keys(keys_dir)
    env = intake_environment(keys) | {
        "CHUISHAO_CLOCK": "shared",
        "CHUISHAO_CONSOLE_API_KEY": str(keys["console"]),
    }
    log_dir = tmp_path_factory.mktemp("demo-logs")
    services = ServiceProcesses.of(
        WITH_CONSOLE, own_servers.nats_url, own_servers.redis_url, log_dir, **env
    )
    with services as stack:
        yield stack


async def play_demo(
    own_servers: Servers, demo_stack: AnyServices, keys_dir: Path
) -> "subprocess.CompletedProcess[str]":
    return await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "chuishao.demo",
            "--intake",
            demo_stack.base_url,
            "--page",
            demo_stack.supervision_url,
            "--console",
            demo_stack.console_url,
            "--keys",
            str(keys_dir / "api-keys.json"),
            "--pace",
            "0",
        ],
        env={**os.environ, "CHUISHAO_REDIS_URL": own_servers.redis_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_demo_plays_every_story_and_the_rates_come_out(
    own_servers: Servers, demo_stack: AnyServices, keys_dir: Path
) -> None:
    done = await play_demo(own_servers, demo_stack, keys_dir)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr + demo_stack.log("supervision")
    assert "[coordination whistle]" in out, out
    assert "[emergency whistle]" in out
    assert "escalated to the street" in out
    assert "预警 hotspot: 5 × illegal_parking in grid TY-02" in out
    assert "reopened: back to zhifa-liuan" in out
    # Story 7: a resident's report from the console's page, and the operator's callbacks.
    assert "filed on the resident page /r; its SMS link opens it" in out
    assert "回访 callback by the 12345 operator: 未接通" in out

    # The board needs a command centre's credential: the district's key sees it all.
    district_key = local_keys(keys_dir)["units"]["district-yunxi"]  # type: ignore[index]
    async with httpx.AsyncClient(
        base_url=demo_stack.supervision_url, headers={"X-API-Key": district_key}
    ) as page:
        board = (await page.get("/api/v1/board")).json()
        totals = board["totals"]
        counts = totals["counts"]
        # 7 stories + 5 parking reports; every one summoned, answered and resolved.
        assert (counts["received"], counts["dispatched"], counts["resolved"]) == (12, 12, 12)
        assert totals["response_rate"] == 1.0
        # Rated: 满意 × 8, 基本满意 × 1, 不满意 × 1 (story 8).
        assert (counts["rated"], counts["satisfied"]) == (10, 9)
        # The fire box was resolved only after its 48 h ran out and it rose to the street.
        assert (counts["resolved_on_time"], counts["escalated"]) == (11, 1)
        assert counts["closed"] == 9  # the rated ones
        assert board["overdue_count"] == 0
        units = {row["id"]: row for row in board["units"]}
        centre = units["qingshi-command"]
        assert centre["name"] == "青石街道社会治理指挥中心"  # names from the router's directory
        # The community let the clock run out; the street met its own, later deadline.
        assert units["grid-heyuan"]["rates"]["on_time_resolution_rate"] == 0.0
        assert centre["rates"]["on_time_resolution_rate"] == 1.0
        assert {w["whistle"] for w in board["whistles"]} == {"coordination", "emergency"}
        # The page's ranking is kept a few seconds for every screen
        # (board_ranking_cache_seconds): the demo's last resolutions show within that.
        deadline = asyncio.get_running_loop().time() + 15
        page_html = (await page.get("/")).text
        while "青石街道社会治理指挥中心" not in page_html:
            assert asyncio.get_running_loop().time() < deadline, page_html
            await asyncio.sleep(0.5)
            page_html = (await page.get("/")).text

    async with httpx.AsyncClient() as client:
        for url in (
            f"{demo_stack.base_url}/metrics",
            f"{demo_stack.supervision_url}/metrics",
            demo_stack.metrics_url("router"),
        ):
            text = (await client.get(url)).text
            assert "faststream_received_messages_total" in text or "intake" in url, url
            assert "process_resident_memory_bytes" in text, url
        router = (await client.get(demo_stack.metrics_url("router"))).text
        assert 'chuishao_consumer_messages_total{consumer="router",outcome="handled"}' in router


async def test_the_demo_runs_on_a_stack_that_already_holds_tickets(
    own_servers: Servers, demo_stack: AnyServices, keys_dir: Path
) -> None:
    """The README's report first (the same fire box as story 3): the demo's report is
    joined to it, split out again, and every story still plays; the moved clock is told."""
    readme_report = {
        "category": "fire_box",
        "description": "A-160车位旁消防箱玻璃碎了",
        "location": {"lat": 39.9087, "long": 116.3975, "address": "和园小区 A-160"},
        "channel": "snap_it",
        "reporter": {"phone": "13800138000"},
    }
    async with httpx.AsyncClient(base_url=demo_stack.base_url) as intake:
        response = await intake.post("/api/v1/reports", json=readme_report)
        assert response.status_code == 201, response.text
    done = await play_demo(own_servers, demo_stack, keys_dir)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert f"joined to the stack's earlier ticket {response.json()['ticket_id']}" in out, out
    assert "split out to play the story on its own ticket" in out
    assert "escalated to the street" in out
    assert "`make timetravel BY=0` puts it back" in out
