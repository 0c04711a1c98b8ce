"""Probes from outside (ADV) of the big screen: a street's wall-screen display token sees
its own street on the map and in the ranking, whatever it asks for; odd periods are
refused in words, never a 500."""

import re

import pytest

from chuishao.supervision.display import DisplayTokens
from integration.test_supervision_bigscreen import busy, polygons
from support.supervision import SupervisionHarness

__all__ = ["busy"]  # the fixture, used by name
pytestmark = pytest.mark.usefixtures("clean")
LIUAN_ONLY = {"zhifa-liuan", "wuyeban-liuan", "LY-01", "BH-02", "liuan"}


async def test_a_streets_display_token_sees_its_street_on_the_map_and_in_the_ranking(
    busy: SupervisionHarness,
) -> None:
    token, _ = await DisplayTokens(busy.service.redis).new("street", "qingshi")
    screen = {"X-API-Key": token}
    board = (await busy.http.get("/api/v1/board", headers=screen)).json()
    month = board["ranking_month"]
    report = (await busy.http.get(f"/api/v1/reports/monthly/{month}", headers=screen)).json()
    ranked = [row["id"] for row in board["ranking"]]
    assert ranked == [row["id"] for row in report["units"]]  # the street's own report's
    assert not LIUAN_ONLY & set(ranked), ranked
    assert {p["code"] for p in board["places"]} <= {"qingshi", "HY-01", "SQ-01", "XY-02"}
    html = (await busy.http.get("/board", headers=screen)).text
    assert {c for c, k in polygons(html).items() if k.startswith("street")} == {"qingshi"}
    assert not LIUAN_ONLY & set(re.findall(r'data-code="([^"]+)"', html))
    for name in LIUAN_ONLY:
        assert f'id="unit-{name}"' not in html
    # Another street, or the whole district, by the query: refused, not widened.
    for params in ({"street": "liuan"}, {"street": "liuan", "period": "2026-01"}):
        answer = await busy.http.get("/api/v1/board", headers=screen, params=params)
        assert answer.status_code == 403, answer.text
    for period in ("2026-13", "2026-02-30", "NaN", "2026-1", "9999-99", "2026-01\x00", "../all"):
        answer = await busy.http.get("/api/v1/board", headers=screen, params={"period": period})
        assert answer.status_code == 422, (period, answer.text)
        assert answer.json()["error"]["field"] == "period"
    for month in ("2026-13", "0000-01", "2026-1", "NaN", "2026-01-01", "..%2Fall"):
        for suffix in ("", ".csv", ".xlsx"):
            path = f"/api/v1/reports/monthly/{month}{suffix}"
            answer = await busy.http.get(path, headers=screen)
            assert answer.status_code in (404, 422), (path, answer.status_code)
