"""Who may read supervision's board, and what each sees (issues 12 and 13), through the
HTTP API of the running service on real nats-server and redis-server: no credential, no
board, live stream included; a street's display token sees its street only and stops
working once revoked; a street's response rate does not fall when an escalation summons
its command centre; the board names units and places instead of showing their codes;
the shared clock's time-travel offset is on the board."""

import asyncio
import html
import re
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.clock import OFFSET_KEY
from chuishao.common.domain import ClockKind, Level, Role
from chuishao.supervision.display import DisplayTokens
from support.servers import Servers, run_module
from support.supervision import (
    QINGSHI_CENTRE,
    PlaceInGrid,
    Script,
    SupervisionHarness,
    client,
    scripted_day,
    serving,
    supervision_on,
    supervisor,
)

pytestmark = pytest.mark.usefixtures("clean")
FAST = {
    "gauges_refresh_seconds": 0.1,
    "board_refresh_seconds": 0.1,
    "board_recheck_seconds": 0.1,
    "log_level": "WARNING",
}
READ_PATHS = ["/", "/board", "/board/stream", "/api/v1/board", "/api/v1/rates"]


@pytest.fixture
async def scripted(servers: Servers, js: JetStreamContext) -> AsyncIterator[SupervisionHarness]:
    async with supervision_on(servers, js, scripted_day().events, **FAST) as harness:
        yield harness


async def display_token(harness: SupervisionHarness, level: str, place: str) -> str:
    token, _ = await DisplayTokens(harness.service.redis).new(level, place)  # type: ignore[arg-type]
    return token


def text_of(page: str) -> str:
    """What a person reads: the page without its tags (and their title attributes)."""
    body = page.split("<body>", 1)[-1]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


async def test_every_read_path_refuses_a_request_without_a_credential(
    scripted: SupervisionHarness,
) -> None:
    async with client(scripted) as anonymous:
        for path in READ_PATHS:
            response = await anonymous.get(path)
            assert response.status_code == 401, path
            assert "SD" not in response.text, path
        # The API answers in the one error shape; the page offers the sign-in form.
        refused = (await anonymous.get("/api/v1/board")).json()
        assert refused["error"]["code"] == "credential_required"
        assert "登录" in refused["error"]["message_zh"]
        assert 'name="credential"' in (await anonymous.get("/")).text
        # Figures nobody chose to publish are not public.
        assert (await anonymous.get("/api/v1/public")).status_code == 404
        # Operations stay open: they name no ticket.
        assert (await anonymous.get("/health")).status_code == 200
        assert (await anonymous.get("/metrics")).status_code == 200
    async with client(scripted, {"X-API-Key": "guessed"}) as guessing:
        for path in READ_PATHS:
            assert (await guessing.get(path)).status_code == 401, path
    # A unit's key is not a supervisor's: a community grid station may not read the board.
    async with client(scripted, supervisor("grid-heyuan")) as unit:
        response = await unit.get("/api/v1/board")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "not_a_supervisor"


async def test_the_live_stream_refuses_without_a_credential_on_a_real_port(
    scripted: SupervisionHarness,
) -> None:
    async with (
        serving(scripted.app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as anonymous,
        anonymous.stream("GET", "/board/stream") as response,
    ):
        assert response.status_code == 401
        assert not response.headers["content-type"].startswith("text/event-stream")


async def test_a_streets_display_token_sees_only_its_street(
    scripted: SupervisionHarness,
) -> None:
    token = await display_token(scripted, "street", "yunmen")
    async with client(scripted, {"X-API-Key": token}) as yunmen:
        board = (await yunmen.get("/api/v1/board")).json()
        assert board["scope"] == "云门街道"
        assert board["scope_streets"] == ["yunmen"]
        # Only C (buses blocking a road in 云门) is the street's: received, resolved.
        assert board["totals"]["counts"]["received"] == 1
        assert board["states"]["resolved"] == 1
        assert sum(board["states"].values()) == 1
        assert board["overdue"] == []
        assert board["overdue_count"] == 0
        assert [row["id"] for row in board["streets"]] == ["yunmen"]
        assert {row["id"] for row in board["units"]} == {
            "jiaojing-yunxi",
            "bus-yunxi",
            "jinhua-wuye",
        }
        # The whistle was blown before the ticket was placed; it is still the street's.
        assert [w["ticket_id"] for w in board["whistles"]] == ["SC"]
        # Another street, asked for by name or through a scope, is refused.
        assert (await yunmen.get("/api/v1/board", params={"street": "qingshi"})).status_code == 403
        other = await yunmen.get("/api/v1/rates", params={"scope": "street:qingshi"})
        assert other.status_code == 403
        # A unit's rate is its part in this street's tickets only.
        heyuan = (await yunmen.get("/api/v1/rates", params={"scope": "unit:grid-heyuan"})).json()
        assert heyuan["counts"] == {}
        page = await yunmen.get("/")
        assert page.status_code == 200
        assert "SD" not in page.text
        assert "SA" not in page.text
        assert "SC" in page.text

    # The street's command centre, with its API key: its own street, 青石.
    async with client(scripted, supervisor(QINGSHI_CENTRE)) as qingshi:
        board = (await qingshi.get("/api/v1/board")).json()
        assert board["scope_streets"] == ["qingshi"]
        assert board["totals"]["counts"]["received"] == 5  # A B D F G
        assert [item["ticket_id"] for item in board["overdue"]] == ["SD"]
        assert "bus-yunxi" not in {row["id"] for row in board["units"]}
        assert board["whistles"] == []
        refused = await qingshi.get("/", params={"street": "yunmen"})
        assert refused.status_code == 403

    # The district sees every street, and can look at one: the per-street view.
    one_street = (await scripted.http.get("/api/v1/board", params={"street": "yunmen"})).json()
    assert one_street["scope"] == "云门街道"
    assert one_street["totals"]["counts"]["received"] == 1
    everything = (await scripted.http.get("/api/v1/board")).json()
    assert everything["scope_streets"] is None
    assert everything["totals"]["counts"]["received"] == 7  # E, never placed, included


async def test_a_wall_screens_token_becomes_a_cookie_and_stops_working_once_revoked(
    scripted: SupervisionHarness, servers: Servers
) -> None:
    token = await display_token(scripted, "street", "qingshi")
    async with client(scripted) as screen:
        opened = await screen.get("/", params={"token": token, "period": "all"})
        assert opened.status_code == 303
        assert opened.headers["location"] == "/?period=all"  # the token leaves the URL
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "chuishao_board=" in cookie
        assert (await screen.get("/?period=all")).status_code == 200  # by the cookie
        assert (await screen.get("/api/v1/board")).status_code == 200

        # Revoked from the command line, as an administrator does.
        grant_id = (await DisplayTokens(scripted.service.redis).all())[0].id
        listed = await run_module(servers, "chuishao.supervision.display", "list")
        assert grant_id in listed.stdout
        assert token not in listed.stdout
        revoked = await run_module(servers, "chuishao.supervision.display", "revoke", grant_id)
        assert revoked.returncode == 0, revoked.stdout + revoked.stderr
        for path in READ_PATHS:
            assert (await screen.get(path)).status_code == 401, path
        assert (await screen.get("/", params={"token": token})).status_code == 401


async def test_an_open_live_stream_ends_when_its_token_is_revoked(
    scripted: SupervisionHarness,
) -> None:
    tokens = DisplayTokens(scripted.service.redis)
    token, grant = await tokens.new("street", "qingshi")
    async with (
        serving(scripted.app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10, headers={"X-API-Key": token}) as screen,
        screen.stream("GET", "/board/stream") as response,
    ):
        assert response.status_code == 200
        lines = response.aiter_lines()
        async with asyncio.timeout(10):
            while (await anext(lines)) != "event: board":
                pass
        await tokens.revoke(grant.id)
        async with asyncio.timeout(10):
            while (await anext(lines)) != "event: signed_out":
                pass


def escalation_day() -> tuple[Script, int, int]:
    """Issue 13's street: six tickets in 柳岸, two taken up by their grid station — 33 %.
    One of those two then runs out of time and rises to the street: its command centre is
    summoned (督办); later it reports. Returns the script and where each step ends."""
    s = Script("E")
    place: PlaceInGrid = {"street": "liuan", "category": "fire_box", "grid": "LY-01"}
    for n in range(6):
        s.submit(f"{n}", n * 0.1, "fire_box", "LY-01")
        s.dispatch(f"{n}", n * 0.1 + 0.01, "grid-liuyin", **place)
    s.ack("0", 1, "grid-liuyin")
    s.ack("1", 1, "grid-liuyin")
    taken_up = len(s.events)
    s.breach("0", 49, ClockKind.RESOLUTION, Level.COMMUNITY, 48)
    s.escalate("0", 49, Level.STREET)
    s.dispatch("0", 49.01, "liuan-command", role=Role.SUPERVISOR, level=Level.STREET, **place)
    escalated = len(s.events)
    s.ack("0", 49.5, "liuan-command")
    return s, taken_up, escalated


async def test_an_escalation_does_not_lower_the_streets_response_rate(
    scripted: SupervisionHarness,
) -> None:
    day, taken_up, escalated = escalation_day()

    async def rate(scope: str) -> float | None:
        response = await scripted.http.get("/api/v1/rates", params={"scope": scope})
        value: float | None = response.json()["response_rate"]
        return value

    await scripted.replay(day.events[:taken_up])
    assert await rate("street:liuan") == pytest.approx(2 / 6)

    await scripted.replay(day.events[taken_up:escalated])
    assert await rate("street:liuan") == pytest.approx(2 / 6)  # was 1/6 = 17 % before
    assert await rate("unit:grid-liuyin") == pytest.approx(2 / 6)
    assert await rate("unit:liuan-command") == 0.0  # summoned, not yet reported
    board = (await scripted.http.get("/api/v1/board", params={"street": "liuan"})).json()
    assert board["totals"]["response_rate"] == pytest.approx(2 / 6)
    page = (await scripted.http.get("/", params={"street": "liuan"})).text
    assert '<div class="n">33.3%</div><div class="label">响应率' in page
    assert "主办单位报到即算已响应" in page  # the board says how it counts
    assert "只计入它自己的单位响应率" in page

    await scripted.replay(day.events[escalated:])
    assert await rate("unit:liuan-command") == 1.0
    assert await rate("street:liuan") == pytest.approx(2 / 6)


async def test_the_board_names_units_places_and_categories(
    scripted: SupervisionHarness,
) -> None:
    page = (await scripted.http.get("/")).text
    shown = text_of(page)
    for name in (
        "青石街道",
        "云门街道",
        "和园南网格",
        "和园社区网格站",
        "青石街道社会治理指挥中心",
    ):
        assert name in shown, name
    for code in ("qingshi-command", "grid-heyuan", "HY-01", "TY-01", "jiaojing-yunxi"):
        assert code not in shown, code
    assert not re.search(r"\bqingshi\b", shown)
    assert not re.search(r"\byunmen\b", shown)
    board = (await scripted.http.get("/api/v1/board")).json()
    assert board["place_names"]["qingshi"] == "青石街道"
    assert {row["name"] for row in board["streets"]} == {"青石街道", "云门街道"}
    assert board["unit_names"]["qingshi-command"] == "青石街道社会治理指挥中心"
    assert board["place_names"]["HY-01"] == "和园南网格"
    assert board["category_names"]["fire_box"] != "fire_box"


async def test_the_board_shows_the_shared_clocks_time_travel(
    servers: Servers, js: JetStreamContext, redis: Redis
) -> None:
    await redis.set(OFFSET_KEY, str(timedelta(hours=52).total_seconds()))
    async with supervision_on(servers, js, clock="shared", **FAST) as harness:
        page = (await harness.http.get("/")).text
        assert "模拟时钟：已拨快 52 小时" in page
        board = (await harness.http.get("/api/v1/board")).json()
        assert board["clock_offset_seconds"] == 52 * 3600
    await redis.delete(OFFSET_KEY)
    async with supervision_on(servers, js, clock="shared", **FAST) as harness:
        assert "模拟时钟" not in (await harness.http.get("/")).text


async def test_the_district_publishes_only_the_figures_it_chose(
    servers: Servers, js: JetStreamContext
) -> None:
    public = ("response_rate", "satisfaction_rate")
    async with (
        supervision_on(servers, js, scripted_day().events, public_rates=public, **FAST) as harness,
        client(harness) as anonymous,
    ):
        figures = (await anonymous.get("/api/v1/public")).json()
        assert figures["rates"] == {
            "response_rate": pytest.approx(5 / 6),
            "satisfaction_rate": pytest.approx(3 / 4),
        }
        assert figures["streets"] == {}
        assert "SD" not in str(figures)
        assert (await anonymous.get("/api/v1/board")).status_code == 401


async def test_a_published_ranking_opens_without_a_login_and_drill_downs_do_not(
    servers: Servers, js: JetStreamContext
) -> None:
    """Issue 19, "Who sees what": the monthly ranking and its exports are public when the
    district publishes them (`public_report`); the board and ticket-level reads are not."""
    async with supervision_on(
        servers, js, scripted_day().events, public_report=True, **FAST
    ) as harness:
        month = (await harness.http.get("/api/v1/board")).json()["ranking_month"]
        signed_in = (await harness.http.get(f"/api/v1/reports/monthly/{month}")).json()
        async with client(harness) as anonymous:
            report = await anonymous.get(f"/api/v1/reports/monthly/{month}")
            assert report.status_code == 200, report.text
            public = report.json()
            assert public["scope_streets"] is None  # the whole district
            assert [r["id"] for r in public["units"]] == [r["id"] for r in signed_in["units"]]
            assert public["totals"] == signed_in["totals"]
            assert "SD" not in report.text  # aggregates: no ticket id
            page = await anonymous.get(f"/reports/monthly/{month}")
            assert page.status_code == 200
            assert "月度考核报告" in page.text
            csv = await anonymous.get(f"/api/v1/reports/monthly/{month}.csv")
            assert csv.status_code == 200
            assert csv.content.startswith("\ufeff".encode())
            xlsx = await anonymous.get(f"/api/v1/reports/monthly/{month}.xlsx")
            assert xlsx.status_code == 200
            assert xlsx.content.startswith(b"PK")
            # /reports/monthly opens the current month's report.
            here = await anonymous.get("/reports/monthly")
            assert here.status_code == 307
            assert here.headers["location"] == f"/reports/monthly/{month}"
            # Nothing else is public: the board and its reads still need a credential.
            for path in READ_PATHS:
                assert (await anonymous.get(path)).status_code == 401, path
        # A credential still has its own scope; a wrong one is refused, not made public.
        token = await display_token(harness, "street", "qingshi")
        async with client(harness, {"Authorization": f"Bearer {token}"}) as street:
            mine = (await street.get(f"/api/v1/reports/monthly/{month}")).json()
            assert mine["scope_streets"] == ["qingshi"]
        async with client(harness, {"X-API-Key": "guessed"}) as guessing:
            refused = await guessing.get(f"/api/v1/reports/monthly/{month}")
            assert refused.status_code == 401
    # Unpublished (the default): the report needs a credential.
    async with supervision_on(servers, js, **FAST) as harness:
        month = (await harness.http.get("/api/v1/board")).json()["ranking_month"]
        async with client(harness) as anonymous:
            for path in (f"/reports/monthly/{month}", f"/api/v1/reports/monthly/{month}.csv"):
                assert (await anonymous.get(path)).status_code == 401, path


async def test_the_display_command_makes_tokens_for_known_places_only(
    scripted: SupervisionHarness, servers: Servers
) -> None:
    async def display(*args: str) -> subprocess.CompletedProcess[str]:
        return await run_module(servers, "chuishao.supervision.display", *args)

    typo = await display("new", "--street", "qingshii")
    assert typo.returncode == 1
    assert "qingshii" in typo.stderr
    assert (await display("new", "--district", "qingshi")).returncode == 1  # a street
    made = await display("new", "--street", "qingshi", "--quiet")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    async with client(scripted, {"X-API-Key": token}) as screen:
        board = (await screen.get("/api/v1/board")).json()
        assert board["scope"] == "青石街道"
