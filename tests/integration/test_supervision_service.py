"""The supervision service on real nats-server and redis-server: the scripted day's events
go through JetStream into the projection, whose rates equal the hand-computed ones; a
rebuild from the stream equals the live projection; a redelivered event changes nothing;
the page's JSON and /metrics tell the same story."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.domain import Whistle
from chuishao.common.publishing import encode
from chuishao.supervision.keys import SupervisionKeys
from chuishao.supervision.rebuild import differences, rebuild, snapshot
from support.servers import Servers, run_module
from support.supervision import (
    EXPECTED_ALL,
    EXPECTED_ALL_RATES,
    EXPECTED_MONDAY_RATES,
    EXPECTED_STATES,
    EXPECTED_TUESDAY_RATES,
    EXPECTED_UNIT_RATES,
    Script,
    SupervisionHarness,
    running_supervision,
    scripted_day,
    serving,
    supervisor,
)

pytestmark = pytest.mark.usefixtures("clean")
FAST = {"gauges_refresh_seconds": 0.1, "log_level": "WARNING"}


@pytest.fixture
async def supervision(servers: Servers, js: JetStreamContext) -> AsyncIterator[SupervisionHarness]:
    async with running_supervision(servers.nats_url, servers.redis_url, js, **FAST) as harness:
        yield harness


@pytest.fixture
async def scripted(supervision: SupervisionHarness) -> SupervisionHarness:
    await supervision.replay(scripted_day().events)
    return supervision


def assert_rates(actual: dict[str, object], expected: dict[str, float | None]) -> None:
    for name, value in expected.items():
        assert actual[name] == (pytest.approx(value) if value is not None else None), name


async def test_the_scripted_day_through_jetstream_gives_the_hand_computed_rates(
    scripted: SupervisionHarness,
) -> None:
    totals = await scripted.rates()
    assert {name: totals["counts"].get(name, 0) for name in EXPECTED_ALL} == EXPECTED_ALL
    assert_rates(totals, EXPECTED_ALL_RATES)
    assert_rates(await scripted.rates(period="2026-01-05"), EXPECTED_MONDAY_RATES)
    assert_rates(await scripted.rates(period="2026-01-06"), EXPECTED_TUESDAY_RATES)
    assert_rates(await scripted.rates(period="2026-01"), EXPECTED_ALL_RATES)
    for unit, expected in EXPECTED_UNIT_RATES.items():
        assert_rates(await scripted.rates(f"unit:{unit}"), expected)
    for wrong in ("last week", "9999-99", "2026-13", "2026-02-30"):
        bad = await scripted.http.get("/api/v1/rates", params={"period": wrong})
        assert bad.status_code == 422, wrong
        assert bad.json()["error"]["field"] == "period"


async def test_the_board_shows_states_overdue_work_and_whistles(
    scripted: SupervisionHarness,
) -> None:
    response = await scripted.http.get("/api/v1/board")
    assert response.status_code == 200
    board = response.json()
    assert board["states"] == EXPECTED_STATES
    assert board["open_tickets"] == 4
    assert [item["ticket_id"] for item in board["overdue"]] == ["SD"]
    assert board["overdue"][0]["escalated"] is True
    assert board["overdue"][0]["level"] == "street"
    assert [(w["ticket_id"], w["whistle"]) for w in board["whistles"]] == [("SC", "coordination")]
    assert {row["id"] for row in board["units"]} >= set(EXPECTED_UNIT_RATES)
    assert board["hotspots"] == []  # four fire boxes in HY-01 within a day: below five
    page = await scripted.http.get("/")
    assert page.status_code == 200
    assert "SD" in page.text
    assert "协同哨" in page.text


async def test_a_rebuild_from_the_stream_equals_the_live_projection(
    scripted: SupervisionHarness, js: JetStreamContext, redis: Redis
) -> None:
    service = scripted.service
    live = SupervisionKeys(service.settings.supervision_namespace)
    replayed = await rebuild(
        js, redis, "sup-rebuild-test", service.projection.zone, service.projection.rule
    )
    assert replayed.events == len(scripted_day().events)
    rebuilt = await snapshot(redis, SupervisionKeys("sup-rebuild-test"))
    assert len(rebuilt) > 50
    assert differences(await snapshot(redis, live), rebuilt) == []
    # The comparison is not blind: one counter off and it says where.
    await redis.hincrby(live.counts("unit:grid-heyuan", "all"), "resolved", 1)
    assert differences(await snapshot(redis, live), rebuilt) == [
        "counts:unit:grid-heyuan:all: "
        + repr(dict(sorted((rebuilt["counts:unit:grid-heyuan:all"] | {"resolved": "3"}).items())))
        + " != "
        + repr(rebuilt["counts:unit:grid-heyuan:all"])
    ]


async def test_the_rebuild_command_compares_and_reports(
    scripted: SupervisionHarness, servers: Servers
) -> None:
    done = await run_module(servers, "chuishao.supervision", "rebuild")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "live projection and rebuild agree" in done.stdout


async def test_an_event_delivered_again_past_the_duplicate_window_changes_nothing(
    scripted: SupervisionHarness, js: JetStreamContext
) -> None:
    before = await scripted.rates()
    events = scripted_day().events
    rated = next(e for e in events if e.type == "TicketRated")
    # No Nats-Msg-Id: JetStream stores it again, as it would after its 10-minute window.
    await js.publish(subjects.for_event(rated), encode(rated))
    marker = scripted_day("M").events[:1]
    await scripted.publish(marker)
    await scripted.until_applied(marker)  # everything before the marker was handled
    after = await scripted.rates()
    assert after["counts"]["rated"] == before["counts"]["rated"]
    assert after["counts"]["received"] == before["counts"]["received"] + 1


async def test_metrics_count_messages_and_show_open_and_overdue_tickets(
    scripted: SupervisionHarness, js: JetStreamContext
) -> None:
    await js.publish("ticket.submitted.BROKEN", b"{not json")
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        text = (await scripted.http.get("/metrics")).text
        if 'chuishao_dead_letters{consumer="supervision"} 1.0' in text:
            break
        assert asyncio.get_running_loop().time() < deadline, text
        await asyncio.sleep(0.05)
    assert 'chuishao_tickets_open{state="dispatched"} 1.0' in text
    assert 'chuishao_tickets_open{state="resolved"} 1.0' in text
    assert "chuishao_tickets_overdue 1.0" in text
    handled = len(scripted_day().events)
    assert (
        f'chuishao_consumer_messages_total{{consumer="supervision",outcome="handled"}} '
        f"{float(handled)}" in text
    )
    assert (
        'chuishao_consumer_messages_total{consumer="supervision",outcome="dead_lettered"} 1.0'
        in text
    )
    # FastStream's middleware, with the ticket id taken out of the handler label.
    assert 'handler="ticket.submitted.*"' in text
    assert "faststream_received_processed_messages_duration_seconds_bucket" in text
    assert "ticket.submitted.SA" not in text


async def test_the_live_stream_sends_the_board_and_then_its_changes(
    scripted: SupervisionHarness,
) -> None:
    async with (
        serving(scripted.app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10, headers=supervisor()) as client,
        client.stream("GET", "/board/stream") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = aiter(sse_frames(response))
        first = await anext(frames)
        assert first[0] == "event: board"
        assert all(line.startswith("data: ") for line in first[1:])
        assert any("SD" in line for line in first)
        assert not any("XA" in line for line in first)
        news = Script("X")  # a road surface bursting and smoking: the emergency whistle
        news.submit("A", 60, "emergency_hazard", "HY-01")
        news.whistle("A", 60.01, Whistle.EMERGENCY, "xiaofang-yunxi", "cg-yunxi")
        await scripted.publish(news.events)
        async with asyncio.timeout(10):
            while not any("XA" in line for line in await anext(frames)):
                pass


async def sse_frames(response: httpx.Response) -> AsyncIterator[list[str]]:
    frame: list[str] = []
    async for line in response.aiter_lines():
        if line:
            frame.append(line)
        elif frame:
            yield frame
            frame = []


async def test_health(supervision: SupervisionHarness) -> None:
    response = await supervision.http.get("/health")
    assert response.json() == {"status": "ok"}
    assert isinstance(supervision.http, httpx.AsyncClient)
