"""Through JetStream into the running supervision service: a ticket closed because its
rating window passed reaches the projection (the SUPERVISION consumer takes
TicketClosed), is in no satisfaction count, and shows as closed without a rating and in
the callback rate (回访率), in the read API and on the board."""

import pytest

from chuishao.common.domain import Rating
from chuishao.common.events import TicketClosed
from support.supervision import Place, Script, SupervisionHarness

pytestmark = pytest.mark.usefixtures("clean")
GRID = "grid-heyuan"
QINGSHI: Place = {"street": "qingshi", "category": "fire_box"}


async def test_an_unrated_close_counts_in_the_callback_rate_not_as_satisfied(
    supervision: SupervisionHarness,
) -> None:
    s = Script("CB")
    for name in ("A", "B", "C"):
        s.submit(name, 0, "fire_box", "HY-01")
        s.dispatch(name, 0.01, GRID, grid="HY-01", **QINGSHI)
        s.ack(name, 0.1, GRID)
        s.resolve(name, 1, GRID)
    s.rate("A", 2, Rating.SATISFIED, GRID)
    s.close("A", 2)
    s._add(TicketClosed, "B", 7 * 24 + 1, reason="feedback_window_elapsed")
    s._add(TicketClosed, "C", 7 * 24 + 1, reason="feedback_window_elapsed")
    await supervision.publish(s.events)
    await supervision.until_applied(s.events)

    for scope in ("all", "street:qingshi", f"unit:{GRID}"):
        rates = await supervision.rates(scope)
        counts = rates["counts"]
        assert (counts["rated"], counts["satisfied"]) == (1, 1), scope
        assert counts["closed_unrated"] == 2, scope
        assert counts["closed"] == 3, scope
        assert rates["satisfaction_rate"] == 1.0, scope  # B and C are not in it
        assert rates["callback_rate"] == pytest.approx(1 / 3), scope

    page = await supervision.http.get("/")
    assert page.status_code == 200, page.text
    assert 'id="rate-callback"' in page.text
    assert "33.3%" in page.text  # 回访率 1/3
    assert "1/3" in page.text
