"""The big screen (issue 19) of the running supervision service on real nats-server and
redis-server: the board's map holds the directory's streets and grids, shaded by the
projection's open and overdue counts, with the hotspot marked on its grid; the units are
in the order and with the ranks of the monthly report; a street's board maps its street
only."""

import re
from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from chuishao.router.document import place_names
from support.bigscreen import HOTSPOT_GRID, HOTSPOT_SETTINGS, LOADS, busy_district, ending_before
from support.servers import Servers
from support.supervision import (
    DIRECTORY,
    QINGSHI_CENTRE,
    SupervisionHarness,
    supervision_on,
    supervisor,
)

pytestmark = pytest.mark.usefixtures("clean")
STREETS = {"qingshi", "liuan", "yunmen", "qingshan"}


@pytest.fixture
async def busy(servers: Servers, js: JetStreamContext) -> AsyncIterator[SupervisionHarness]:
    events = ending_before(busy_district().events)
    async with supervision_on(
        servers, js, events, log_level="WARNING", **HOTSPOT_SETTINGS
    ) as harness:
        yield harness


def polygons(html: str) -> dict[str, str]:
    """code → the classes of its outline on the map."""
    return {
        code: classes
        for classes, code in re.findall(r'<polygon class="([^"]*)" data-code="([^"]*)"', html)
    }


async def test_the_board_maps_the_districts_load_and_marks_the_hotspot(
    busy: SupervisionHarness,
) -> None:
    html = await busy.page("/board")
    drawn = polygons(html)
    # Every street of the directory, and its grids, as outlines.
    assert {code for code, classes in drawn.items() if classes.startswith("street")} == STREETS
    grids = {p.code for p in place_names(DIRECTORY.document) if p.kind == "grid" and p.polygon}
    assert {code for code, classes in drawn.items() if classes.startswith("grid")} == grids
    # Shaded by the projection's counts: LY-01 11 open of which 2 overdue, SQ-01 4 open.
    assert drawn["LY-01"] == "grid overdue-2"
    assert drawn["JX-01"] == "grid overdue-3"
    assert drawn["SQ-01"] == "grid open-2"
    assert drawn["XY-02"] == "grid open-1"
    assert drawn["HY-02"] == "grid load-0"  # B and G closed
    assert drawn["HY-01"] == "grid overdue-1"  # D overdue; E and F open
    assert 'data-code="LY-01" x=' in html
    assert ">11 · 超2</text>" in html
    # The hotspot on its grid, and only there.
    marks = re.findall(r'<g class="mark hotspot" data-code="([^"]+)"', html)
    assert marks == [HOTSPOT_GRID]
    assert "热点预警：消防设施损坏 3 件" in html
    assert "超期 ≥5 件" in html  # the legend, in Chinese

    board = (await busy.http.get("/api/v1/board")).json()
    loads = {load["code"]: (load["open"], load["overdue"]) for load in board["places"]}
    for grid, (_street, _, count, overdue) in LOADS.items():
        assert loads[grid] == (count, overdue)
    assert loads["liuan"] == (13, 2)


async def test_units_are_ranked_as_the_monthly_report_ranks_them(
    busy: SupervisionHarness,
) -> None:
    board = (await busy.http.get("/api/v1/board")).json()
    month = board["ranking_month"]
    report = (await busy.http.get(f"/api/v1/reports/monthly/{month}")).json()
    expected = [(row["id"], row["rank"], row["score"]) for row in report["units"]]
    assert [(row["id"], row["rank"], row["score"]) for row in board["ranking"]] == expected
    assert len(expected) >= 5
    html = (await busy.http.get("/board")).text
    shown = re.findall(r'<tr id="unit-([^"]+)" data-rank="([^"]*)"', html)
    assert shown == [(key, str(rank) if rank is not None else "") for key, rank, _ in expected]
    ranks = [rank for _, rank, _ in expected if rank is not None]
    assert ranks == sorted(ranks)
    assert ranks[0] == 1
    # Not by id: the first-ranked unit is not the first in the alphabet.
    assert [key for key, _, _ in expected] != sorted(key for key, _, _ in expected)


async def test_a_streets_board_maps_its_own_street(busy: SupervisionHarness) -> None:
    html = await busy.page("/board", supervisor(QINGSHI_CENTRE))
    drawn = polygons(html)
    assert {code for code, c in drawn.items() if c.startswith("street")} == {"qingshi"}
    assert "LY-01" not in drawn
    assert {"HY-01", "SQ-01", "XY-02"} <= drawn.keys()
    assert re.findall(r'<g class="mark hotspot" data-code="([^"]+)"', html) == ["HY-01"]
    board = (await busy.http.get("/api/v1/board", headers=supervisor(QINGSHI_CENTRE))).json()
    assert {load["code"] for load in board["places"]} <= {"qingshi", "HY-01", "SQ-01", "XY-02"}
