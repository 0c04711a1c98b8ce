"""The big screen's pure parts (issue 19): counts → the map's shades, the legend made from
the same steps, the places a viewer's map shows, hotspots marked only while in their
window, names escaped, and the board's units in the order of the composite score."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chuishao.common.place_names import PlaceName
from chuishao.common.svgmap import Mark, svg_map
from chuishao.supervision import districtmap
from chuishao.supervision.assessment import load_policy, ranked
from chuishao.supervision.board import Board, HotspotItem, PlaceLoad
from chuishao.supervision.rates import rates_of
from chuishao.supervision.rendering import Renderer

NOW = datetime(2026, 3, 10, 4, tzinfo=UTC)


def square(west: float, south: float, size: float = 0.01) -> tuple[tuple[float, float], ...]:
    return ((west, south), (west + size, south), (west + size, south + size), (west, south + size))


PLACES = [
    PlaceName(code="yunxi", name="云溪区", kind="district"),
    PlaceName(code="qingshi", name="青石街道", kind="street", parent="yunxi",
              polygon=square(116.38, 39.90, 0.02)),
    PlaceName(code="liuan", name="柳岸街道", kind="street", parent="yunxi",
              polygon=square(116.40, 39.90, 0.02)),
    PlaceName(code="heyuan", name="和园社区", kind="community", parent="qingshi"),
    PlaceName(code="liuyin", name="柳荫社区", kind="community", parent="liuan"),
    PlaceName(code="HY-01", name="和园南网格", kind="grid", parent="heyuan",
              polygon=square(116.38, 39.90)),
    PlaceName(code="HY-02", name="和园北网格", kind="grid", parent="heyuan",
              polygon=square(116.38, 39.91)),
    PlaceName(code="LY-01", name="柳荫<南>网格", kind="grid", parent="liuyin",
              polygon=square(116.40, 39.90)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("open_tickets", "overdue", "expected"),
    [
        (0, 0, "load-0"),
        (1, 0, "open-1"),
        (2, 0, "open-1"),
        (3, 0, "open-2"),
        (9, 0, "open-2"),
        (10, 0, "open-3"),
        (250, 0, "open-3"),
        (1, 1, "overdue-1"),  # any overdue ticket outranks the open ones
        (40, 1, "overdue-1"),
        (2, 2, "overdue-2"),
        (9, 4, "overdue-2"),
        (5, 5, "overdue-3"),
    ],
)
def test_counts_shade_a_place(open_tickets: int, overdue: int, expected: str) -> None:
    assert districtmap.shade(open_tickets, overdue) == expected


def test_the_legend_names_every_shade_in_chinese() -> None:
    entries = districtmap.legend()
    assert [e.label for e in entries] == [
        "无在办工单",
        "在办 1–2 件",
        "在办 3–9 件",
        "在办 ≥10 件",
        "超期 1 件",
        "超期 2–4 件",
        "超期 ≥5 件",
        "热点预警（预警窗口内）",
    ]
    shades = {districtmap.shade(o, d) for o in range(0, 20) for d in range(0, min(o, 8) + 1)}
    assert shades == {e.css for e in entries} - {"hotspot"}


def test_a_street_sees_its_street_and_its_grids_only() -> None:
    assert [p.code for p in districtmap.in_scope(PLACES, {"qingshi"})] == [
        "qingshi",
        "HY-01",
        "HY-02",
    ]
    everything = districtmap.in_scope(PLACES, None)
    assert [p.code for p in everything] == ["qingshi", "liuan", "HY-01", "HY-02", "LY-01"]
    assert districtmap.mapped(PLACES, {"liuan"}) == [("street", "liuan"), ("grid", "LY-01")]


def hotspot(grid: str, hours_ago: float, window_hours: float = 24) -> HotspotItem:
    return HotspotItem(
        at=NOW - timedelta(hours=hours_ago),
        ticket_id=f"T-{grid}",
        grid=grid,
        street="qingshi",
        category="fire_box",
        count=5,
        threshold=5,
        window_seconds=round(window_hours * 3600),
    )


def board(**fields: object) -> Board:
    empty = rates_of("all", "all", {})
    values: dict[str, object] = {
        "as_of": NOW,
        "period": "all",
        "scope": "云溪区",
        "scope_streets": None,
        "states": {},
        "open_tickets": 0,
        "overdue_count": 0,
        "overdue": [],
        "totals": empty,
        "units": [],
        "streets": [],
        "hotspots": [],
        "whistles": [],
        **fields,
    }
    return Board.model_validate(values)


def classes(svg: str) -> dict[str, str]:
    return {
        code: found
        for found, code in re.findall(r'<polygon class="([^"]*)" data-code="([^"]*)"', svg)
    }


def test_the_map_shades_places_by_their_counts_and_marks_live_hotspots() -> None:
    shown = board(
        places=[
            PlaceLoad(code="HY-01", kind="grid", open=4, overdue=0),
            PlaceLoad(code="LY-01", kind="grid", open=7, overdue=2),
            PlaceLoad(code="liuan", kind="street", open=7, overdue=2),
        ],
        # HY-01's warning is 3 h old (in its window); HY-02's passed its window an hour ago.
        hotspots=[hotspot("HY-01", 3), hotspot("HY-02", 25)],
        category_names={"fire_box": "消防设施损坏"},
    )
    svg = districtmap.draw(PLACES, shown)
    assert classes(svg) == {
        "qingshi": "street load-0",
        "liuan": "street overdue-2",
        "HY-01": "grid open-2",
        "HY-02": "grid load-0",
        "LY-01": "grid overdue-2",
    }
    assert re.findall(r'<g class="mark hotspot" data-code="([^"]+)"', svg) == ["HY-01"]
    assert "热点预警：消防设施损坏 5 件 / 24 小时（阈值 5）" in svg
    assert ">7 · 超2</text>" in svg
    assert ">4</text>" in svg
    assert "柳荫&lt;南&gt;网格：在办 7 件，超期 2 件" in svg  # escaped, with its counts
    assert "<南>" not in svg
    # A street's board frames its street: the other street is not drawn.
    own = districtmap.draw(PLACES, board(scope_streets=["qingshi"], scope="青石街道"))
    assert set(classes(own)) == {"qingshi", "HY-01", "HY-02"}


def test_a_mark_off_the_map_is_left_out() -> None:
    svg = svg_map(PLACES, marks=[Mark("nowhere", "?"), Mark("HY-02", "<b>")])
    assert svg.count('class="mark hotspot"') == 1
    assert "<title>&lt;b&gt;</title>" in svg


def test_the_board_lists_units_by_composite_score_with_their_rank() -> None:
    def unit(key: str, responded: int, resolved: int) -> tuple[str, str, object]:
        counts = {
            "dispatched": 4,
            "answerable": 4,
            "responded": responded,
            "resolved": resolved,
        }
        return (key, f"单位{key}", rates_of(f"unit:{key}", "2026-03", counts))

    policy = load_policy()
    # By id these would read a, b, c; by score c (4/4, 4/4), a (4/4, 1/4), b (1/4, 0/4).
    rows = ranked([unit("a", 4, 1), unit("b", 1, 0), unit("c", 4, 4)], [], policy)  # type: ignore[list-item]
    html = Renderer(ZoneInfo("Asia/Shanghai")).board(board(ranking=rows, ranking_month="2026-03"))
    shown = re.findall(r'<tr id="unit-([^"]+)" data-rank="([^"]*)"', html)
    assert shown == [("c", "1"), ("a", "2"), ("b", "3")]
    assert "单位考核排名 2026-03" in html
    assert re.search(r'<td class="num rank">1</td>\s*<td title="c">单位c</td>', html)
