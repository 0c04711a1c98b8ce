"""The monthly report (issue 19) of the running supervision service on real nats-server
and redis-server: December's two tickets and January's scripted day go through JetStream;
the January report ranks the units by the shipped policy's score, shows how their places
changed since December, draws its charts inline; the .xlsx and .csv hold the same rows;
a street's command centre sees its street's units only; bad months and empty months."""

import csv
import io
import re
from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext
from openpyxl import load_workbook  # type: ignore[import-untyped]

from chuishao.common.domain import ClockKind, Level, Rating
from chuishao.supervision.display import DisplayTokens
from support.servers import Servers
from support.supervision import (
    QINGSHI_CENTRE,
    PlaceInGrid,
    Script,
    SupervisionHarness,
    client,
    scripted_day,
    supervision_on,
    supervisor,
)

pytestmark = pytest.mark.usefixtures("clean")
YUNMEN_UNITS = {"jiaojing-yunxi", "bus-yunxi", "jinhua-wuye"}
DAYS_BEFORE = -25 * 24.0  # hours: 11 December 2025, 09:00 Beijing


def december() -> Script:
    """Two tickets of 青石 in December: 河沿网格 handles its fire box perfectly (1st); the
    street's law enforcement team never answers its oil-fumes ticket (score 0, 2nd)."""
    s = Script("P")
    fire: PlaceInGrid = {"street": "qingshi", "category": "fire_box", "grid": "HY-01"}
    oil: PlaceInGrid = {"street": "qingshi", "category": "oil_fumes_noise", "grid": "HY-02"}
    h = DAYS_BEFORE
    s.submit("1", h, "fire_box", "HY-01")
    s.dispatch("1", h + 0.01, "grid-heyuan", **fire)
    s.arm("1", h + 0.02, ClockKind.RESOLUTION, Level.COMMUNITY, 48)
    s.ack("1", h + 0.2, "grid-heyuan")
    s.sign_off("1", h + 2, "grid-heyuan")
    s.resolve("1", h + 2, "grid-heyuan")
    s.rate("1", h + 3, Rating.SATISFIED, "grid-heyuan")
    s.close("1", h + 3)
    s.submit("2", h, "oil_fumes_noise", "HY-02")
    s.dispatch("2", h + 0.01, "zhifa-qingshi", level=Level.STREET, **oil)
    return s


@pytest.fixture
async def reported(servers: Servers, js: JetStreamContext) -> AsyncIterator[SupervisionHarness]:
    events = december().events + scripted_day().events
    async with supervision_on(servers, js, events, log_level="WARNING") as harness:
        yield harness


def table_rows(page: str, level: str) -> list[tuple[str, str, str]]:
    """(id, rank, movement) of each row of a level's table, in the page's order."""
    return re.findall(
        rf'<tr id="{level}-([^"]+)" data-rank="([^"]*)"[^>]*>\s*'
        r'<td class="num rank">[^<]*</td>\s*<td class="num move">([^<]*)</td>',
        page,
    )


async def test_the_month_ranks_units_against_the_month_before(
    reported: SupervisionHarness,
) -> None:
    page = await reported.page("/reports/monthly/2026-01")
    assert "2026-01 月度考核报告" in page
    units = table_rows(page, "unit")
    # Scores by the shipped weights (response .25, resolution .3, satisfaction .3, on-time
    # response .05, on-time resolution .1; "—" rates left out):
    #   交警 100 and 金华物业 100 (only the rates they have: tie), 公交 92.86 (answered
    #   late), 执法队 85 (one of two ratings satisfied), 河沿网格 73.75 (D never taken up,
    #   G late), 青石指挥中心 50 (D not yet resolved).
    assert [(unit_id, rank) for unit_id, rank, _ in units] == [
        ("jiaojing-yunxi", "1"),
        ("jinhua-wuye", "1"),
        ("bus-yunxi", "3"),
        ("zhifa-qingshi", "4"),
        ("grid-heyuan", "5"),
        ("qingshi-command", "6"),
    ]
    moves = {unit_id: move for unit_id, _, move in units}
    assert moves["grid-heyuan"] == "↓4"  # 1st in December
    assert moves["zhifa-qingshi"] == "↓2"  # 2nd in December
    assert moves["bus-yunxi"] == "新"  # no December ticket
    assert re.search(r'id="unit-grid-heyuan".*?73\.75.*?-26\.25', page, re.S)  # 100 → 73.75

    # Per street: 云门 (C only) before 青石.
    assert [row[0] for row in table_rows(page, "street")] == ["yunmen", "qingshi"]
    # Every figure's definition is on the same page.
    anchors = set(re.findall(r'href="#([^"]+)"', page))
    assert {"def-response_rate", "def-score", "def-rank"} <= anchors
    assert anchors <= set(re.findall(r'id="([^"]+)"', page))
    # Three charts, inline, with nothing to load from anywhere.
    assert page.count("<svg") == 3
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']https?:""", page)

    # The JSON of the same report.
    data = (await reported.http.get("/api/v1/reports/monthly/2026-01")).json()
    assert data["units"][4]["id"] == "grid-heyuan"
    assert data["units"][4]["rank_change"] == -4
    assert data["units"][4]["score"] == pytest.approx(73.75)
    assert data["totals"]["counts"]["received"] == 7
    # The busiest categories: fire boxes (A D E F G), drawn by their catalogue name.
    top = data["categories"][0]
    assert (top["id"], top["rates"]["counts"]["received"]) == ("fire_box", 5)
    fire_box = data["category_names"]["fire_box"]
    assert fire_box != "fire_box"
    chart = re.search(r'<figure class="chart" id="chart-categories">(.*?)</figure>', page, re.S)
    assert chart is not None
    assert fire_box in chart.group(1)

    # The command-centre page links to the report.
    board = (await reported.http.get("/")).text
    assert re.search(r'id="monthly-report"[^>]*href="reports/monthly/\d{4}-\d{2}"', board)


async def test_the_exports_hold_the_report(reported: SupervisionHarness) -> None:
    response = await reported.http.get("/api/v1/reports/monthly/2026-01.xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in response.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["单位 2026-01", "街道 2026-01", "每月一题 2026-01"]
    units = workbook["单位 2026-01"]
    assert units.freeze_panes == "A2"
    headers = [cell.value for cell in units[1]]
    assert {"名次", "名称", "综合得分", "响应率", "解决率", "满意率", "按时签收率"} <= set(headers)
    ids = [row[headers.index("编号")] for row in units.iter_rows(min_row=2, values_only=True)]
    assert ids[:2] == ["jiaojing-yunxi", "jinhua-wuye"]
    assert len(ids) == 6
    heyuan = ids.index("grid-heyuan") + 2
    response_rate = units.cell(row=heyuan, column=headers.index("响应率") + 1)
    assert response_rate.value == pytest.approx(0.75)  # a number, not the text "75.0%"
    assert response_rate.number_format == "0.0%"
    assert units.cell(row=heyuan, column=headers.index("名次变化") + 1).value == -4
    streets = workbook["街道 2026-01"]
    assert [r[headers.index("编号")] for r in streets.iter_rows(min_row=2, values_only=True)] == [
        "yunmen",
        "qingshi",
    ]

    response = await reported.http.get("/api/v1/reports/monthly/2026-01.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["层级", "月份", "名次", "名次变化", "编号"]
    assert "响应率" in rows[0]
    blank = rows.index([])  # then the 每月一题 section under its own header
    assert blank == 1 + 6 + 2
    assert rows[1][4] == "jiaojing-yunxi"
    assert [row[0] for row in rows[1:blank]] == ["单位"] * 6 + ["街道"] * 2

    # 每月一题 in both files, row for row as the report has it.
    report = (await reported.http.get("/api/v1/reports/monthly/2026-01")).json()
    expected = [
        [street["name"], row["grid_name"], row["category_name"], row["reports"]]
        for street in report["problems"]
        for row in street["rows"]
    ]
    assert expected  # the scripted January has recurring problems
    sheet = list(workbook["每月一题 2026-01"].iter_rows(values_only=True))
    header = list(sheet[0])
    picked = [header.index(name) for name in ("街道", "网格", "类别", "反映次数")]
    assert [[row[i] for i in picked] for row in sheet[1:]] == expected
    section = rows[blank + 1 :]
    header = section[0]
    assert header[:3] == ["层级", "月份", "街道编号"]
    picked = [header.index(name) for name in ("街道", "网格", "类别", "反映次数")]
    assert [[row[i] for i in picked] for row in section[1:]] == [
        [*row[:3], str(row[3])] for row in expected
    ]
    assert all(row[0] == "每月一题" for row in section[1:])


async def test_a_streets_centre_sees_only_its_streets_units(
    reported: SupervisionHarness,
) -> None:
    async with client(reported, supervisor(QINGSHI_CENTRE)) as qingshi:
        page = (await qingshi.get("/reports/monthly/2026-01")).text
        seen = {unit_id for unit_id, _, _ in table_rows(page, "unit")}
        assert seen == {"grid-heyuan", "zhifa-qingshi", "qingshi-command"}
        assert [row[0] for row in table_rows(page, "street")] == ["qingshi"]
        for unit in YUNMEN_UNITS:
            assert unit not in page
        # Ranked among its own units only: 执法队 1st, 河沿网格 2nd (1st in December).
        assert [(u, r, m) for u, r, m in table_rows(page, "unit")][:2] == [
            ("zhifa-qingshi", "1", "↑1"),
            ("grid-heyuan", "2", "↓1"),
        ]
        assert "青石街道" in page
        # The exports follow the same rule.
        data = (await qingshi.get("/api/v1/reports/monthly/2026-01.csv")).content
        assert not any(unit.encode() in data for unit in YUNMEN_UNITS)
        workbook = load_workbook(
            io.BytesIO((await qingshi.get("/api/v1/reports/monthly/2026-01.xlsx")).content)
        )
        names = [row[2] for row in workbook["单位 2026-01"].iter_rows(min_row=2, values_only=True)]
        assert set(names) == {"grid-heyuan", "zhifa-qingshi", "qingshi-command"}
        # Another street, by name: refused.
        for path in ("/reports/monthly/2026-01", "/api/v1/reports/monthly/2026-01.xlsx"):
            refused = await qingshi.get(path, params={"street": "yunmen"})
            assert refused.status_code == 403, path
    # A wall screen's display token of 云门: its street's units only.
    token, _ = await DisplayTokens(reported.service.redis).new("street", "yunmen")
    async with client(reported, {"X-API-Key": token}) as screen:
        page = (await screen.get("/reports/monthly/2026-01")).text
        assert {u for u, _, _ in table_rows(page, "unit")} == YUNMEN_UNITS
        assert "grid-heyuan" not in page
    # The district may look at one street.
    yunmen = await reported.http.get("/reports/monthly/2026-01", params={"street": "yunmen"})
    assert {u for u, _, _ in table_rows(yunmen.text, "unit")} == YUNMEN_UNITS


async def test_no_credential_a_bad_month_and_an_empty_month(
    reported: SupervisionHarness,
) -> None:
    async with client(reported) as anonymous:
        for path in (
            "/reports/monthly/2026-01",
            "/api/v1/reports/monthly/2026-01.xlsx",
            "/api/v1/reports/monthly/2026-01.csv",
        ):
            assert (await anonymous.get(path)).status_code == 401, path
    for bad in ("2026-13", "2026-1", "january", "2026-01-05", "0000-01", "２０２６-01", "%00"):
        for path in (f"/reports/monthly/{bad}", f"/api/v1/reports/monthly/{bad}.xlsx"):
            refused = await reported.http.get(path)
            assert refused.status_code == 422, path
            error = refused.json()["error"]
            assert error["code"] == "bad_month"
            assert "月份" in error["message_zh"]
    empty = await reported.http.get("/reports/monthly/2025-06")
    assert empty.status_code == 200
    assert 'id="empty-report"' in empty.text
    assert "没有数据" in empty.text
    assert "<svg" not in empty.text
    workbook = load_workbook(
        io.BytesIO((await reported.http.get("/api/v1/reports/monthly/2025-06.xlsx")).content)
    )
    assert workbook["单位 2025-06"].max_row == 1  # the header only
