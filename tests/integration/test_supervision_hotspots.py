"""Hotspot early warning on real servers: five reports of one category in one grid within
24 h raise one HotspotDetected to the street, published on the ticket stream; four do
not; further reports in the same window raise nothing more."""

import asyncio

import pytest
from nats.js import JetStreamContext

from chuishao.common.events import HotspotDetected
from chuishao.common.streams import TICKETS
from support.supervision import Place, Script, SupervisionHarness

pytestmark = pytest.mark.usefixtures("clean")
PARKING: Place = {"category": "illegal_parking", "street": "yunmen"}


def reports(script: Script, names: str, grid: str, first_hour: float) -> None:
    for index, name in enumerate(names):
        hour = first_hour + index
        script.submit(name, hour, "illegal_parking", grid)
        script.dispatch(name, hour + 0.01, "jiaojing-yunxi", grid=grid, **PARKING)


async def warnings(js: JetStreamContext) -> list[HotspotDetected]:
    assert TICKETS.name is not None
    info = await js.stream_info(TICKETS.name, subjects_filter="ticket.hotspot.>")
    found = []
    for subject in info.state.subjects or {}:
        message = await js.get_last_msg(TICKETS.name, subject)
        found.append(HotspotDetected.model_validate_json(message.data or b""))
    return found


async def settle(supervision: SupervisionHarness, script: Script) -> list[HotspotDetected]:
    await supervision.publish(script.events)
    await supervision.until_applied(script.events)
    await asyncio.sleep(0.1)  # the relay publishes right after the transaction
    return await warnings(supervision.js)


async def test_five_reports_in_a_grid_within_a_day_warn_the_street_once(
    supervision: SupervisionHarness,
) -> None:
    script = Script("P")
    reports(script, "ABCD", "TY-02", 0)
    reports(script, "XY", "TY-01", 0)  # the neighbouring grid: counted apart
    assert await settle(supervision, script) == []

    fifth = Script("P")
    reports(fifth, "E", "TY-02", 4)
    found = await settle(supervision, fifth)
    assert len(found) == 1
    warning = found[0]
    assert (warning.grid_code, warning.category, warning.street) == (
        "TY-02",
        "illegal_parking",
        "yunmen",
    )
    assert (warning.count, warning.threshold, warning.window_seconds) == (5, 5, 86_400)
    assert (warning.ticket_id, warning.producer) == ("PE", "supervision")

    more = Script("P")
    reports(more, "FGH", "TY-02", 5)  # the burst goes on inside the same window
    assert [w.ticket_id for w in await settle(supervision, more)] == ["PE"]

    board = (await supervision.http.get("/api/v1/board")).json()
    assert [(h["grid"], h["count"], h["street"]) for h in board["hotspots"]] == [
        ("TY-02", 5, "yunmen")
    ]


async def test_reports_spread_over_more_than_a_day_do_not_warn(
    supervision: SupervisionHarness,
) -> None:
    script = Script("Q")
    for index, name in enumerate("ABCDEFGH"):
        hour = index * 7.0  # at most four in any 24 hours
        script.submit(name, hour, "illegal_parking", "TY-02")
        script.dispatch(name, hour + 0.01, "jiaojing-yunxi", grid="TY-02", **PARKING)
    assert await settle(supervision, script) == []
