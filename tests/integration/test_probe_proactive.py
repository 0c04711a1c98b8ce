"""Probe from outside (ADV) of proactive tickets: a street's centre names a code of its
own street that is not a grid (its community, or the street itself) and puts the point
on the neighbour's grid. The router places a ticket by its code only when that names a
grid, else by the point: with the router running, 青石's centre so opened a ticket that
was dispatched on 柳岸 (found by this probe). Intake now refuses such a code."""

import asyncio

from chuishao.common.place_names import PlaceName
from chuishao.common.places import publish_places
from support.intake import Harness, auth

ON_LIUAN = {"address": "柳荫南网格", "lat": 39.905, "long": 116.415}  # inside LY-01
PROACTIVE = {
    "category": "fire_box",
    "description": "主动治理：消防箱统一排查更换",
    "channel": "proactive",
}
PLACES = [
    PlaceName(code="qingshi", name="青石街道", kind="street"),
    PlaceName(code="heyuan", name="和园社区", kind="community", parent="qingshi"),
    PlaceName(code="HY-01", name="和园南网格", kind="grid", parent="heyuan"),
    PlaceName(code="liuan", name="柳岸街道", kind="street"),
    PlaceName(code="liuyin", name="柳荫社区", kind="community", parent="liuan"),
    PlaceName(code="LY-01", name="柳荫南网格", kind="grid", parent="liuyin"),
]


async def test_a_centre_cannot_open_one_on_its_neighbours_grid_by_a_non_grid_code(
    intake: Harness,
) -> None:
    await publish_places(intake.js, PLACES)
    places = intake.app.state.intake.places
    deadline = asyncio.get_running_loop().time() + 10
    while places is None or places.get("LY-01") is None:
        assert asyncio.get_running_loop().time() < deadline, "places never loaded"
        await asyncio.sleep(0.02)
    centre = auth("qingshi-command")
    for code in ("heyuan", "qingshi"):  # 和园社区 and 青石街道: both of 青石, neither a grid
        body = PROACTIVE | {"location": ON_LIUAN | {"grid_code": code}}
        opened = await intake.http.post("/api/v1/reports", json=body, headers=centre)
        assert opened.status_code == 422, (code, opened.text)
        error = opened.json()["error"]
        assert (error["code"], error["field"]) == ("unknown_grid", "location.grid_code")
    # Its own grid, the point anywhere: the grid places it (the router reads it first).
    own = PROACTIVE | {"location": ON_LIUAN | {"grid_code": "HY-01"}}
    assert (await intake.http.post("/api/v1/reports", json=own, headers=centre)).status_code == 201
    # The neighbour's grid: refused as before.
    theirs = PROACTIVE | {"location": ON_LIUAN | {"grid_code": "LY-01"}}
    refused = await intake.http.post("/api/v1/reports", json=theirs, headers=centre)
    assert refused.status_code == 403, refused.text
