"""平均办理时长, 每月一题 and 主动治理 in the running supervision service (issue 19), on
real nats-server and redis-server: two months of generated history go through JetStream;
January's report (JSON and page) holds the figures computed independently from the events
(support.monthly_history), and a rebuild of the projection from the stream is equal to
the live one, key by key, these new counters included."""

import re
from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.supervision.keys import SupervisionKeys
from chuishao.supervision.rebuild import differences, rebuild, snapshot
from support.monthly_history import PROBLEM_FIELDS, figures, generated
from support.servers import Servers
from support.supervision import SupervisionHarness, running_supervision

pytestmark = pytest.mark.usefixtures("clean")
CONSOLE = "http://console.test"
TICKETS = 40  # ~230 events: enough of every case (support.monthly_history), quick to send


@pytest.fixture
async def history(servers: Servers, js: JetStreamContext) -> AsyncIterator[SupervisionHarness]:
    async with running_supervision(
        servers.nats_url,
        servers.redis_url,
        js,
        log_level="WARNING",
        supervision_console_url=CONSOLE + "/",
    ) as harness:
        events = generated(tickets=TICKETS).events
        await harness.publish(events)
        await harness.until_applied(events, timeout=60)
        yield harness


async def test_the_report_holds_the_independent_figures_and_a_rebuild_agrees(
    history: SupervisionHarness, js: JetStreamContext, redis: Redis
) -> None:
    expected = figures(generated(tickets=TICKETS).events, "2026-01", "2025-12")
    response = await history.http.get("/api/v1/reports/monthly/2026-01")
    assert response.status_code == 200, response.text
    report = response.json()

    units = {row["id"]: row["rates"] for row in report["units"]}
    assert {
        u: r["average_handling_hours"] for u, r in units.items() if r["counts"].get("handled")
    } == (expected.unit_hours)
    streets = {row["id"]: row["rates"] for row in report["streets"]}
    for street, hours in expected.street_hours.items():
        assert streets[street]["average_handling_hours"] == hours
        assert streets[street]["counts"].get("proactive", 0) == expected.proactive[street]
        assert (
            streets[street]["counts"].get("proactive_resolved", 0)
            == (expected.proactive_resolved[street])
        )
    assert report["totals"]["counts"]["proactive"] == sum(expected.proactive.values())

    problems = {
        s["street"]: [tuple(r[name] for name in PROBLEM_FIELDS) for r in s["rows"]]
        for s in report["problems"]
    }
    assert problems == {
        street: [p.row() for p in rows] for street, rows in expected.problems.items()
    }
    # No reporter's pseudonym leaves the service, only counts.
    assert "ref-" not in response.text

    # The page: the handling column, the section, and its rows' 主动立案 links.
    page = (await history.http.get("/reports/monthly/2026-01")).text
    assert 'id="def-average_handling_hours"' in page
    assert 'id="problems"' in page
    first = expected.problems["qingshi"][0]
    row = re.search(
        rf'<tr id="problem-qingshi-{first.grid}-{first.category}" data-reports="(\d+)"'
        rf'.*?href="{re.escape(CONSOLE)}/centre/proactive\?([^"]+)"',
        page,
        re.S,
    )
    assert row is not None
    assert int(row.group(1)) == first.reports
    assert f"grid={first.grid}" in row.group(2)
    assert f"category={first.category}" in row.group(2)

    # A rebuild from the stream gives the same projection, these counters included.
    service = history.service
    replayed = await rebuild(
        js, redis, "sup-figures-rebuild", service.projection.zone, service.projection.rule
    )
    assert replayed.events > 0
    live = await snapshot(redis, service.projection.keys)
    rebuilt = await snapshot(redis, SupervisionKeys("sup-figures-rebuild"))
    assert any(name.startswith("counts:problem_reporter:") for name in live)
    assert any("handling_seconds" in value for value in live.values() if isinstance(value, dict))
    assert differences(live, rebuilt) == []
