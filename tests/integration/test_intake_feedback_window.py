"""The rating window on real servers: intake's own loop closes a resolved ticket nobody
rated once its window has passed on the (shared, moved) clock — with reason
feedback_window_elapsed, exactly once — while a rated ticket and one still inside its
window are left alone; the category's own window wins over the default."""

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.clock import advance_shared_clock, reset_shared_clock
from chuishao.intake import feedback_window
from chuishao.intake.feedback_window import FeedbackWindow, WindowPolicy
from support.intake import Harness, resident_link_token, running_intake
from support.servers import Servers

GRID = "grid-heyuan"
DAY = 24 * 3600.0
# fire_box waits 3 days for its rating; bus_obstruction the default 7.
WINDOWS = {"rating_window_days": 7.0, "rating_window_days_by_category": {"fire_box": 3.0}}


class Lines:
    """Stands in for the module's structlog logger: what it was asked to log."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(("info", event, fields))

    def debug(self, event: str, **fields: Any) -> None:
        self.lines.append(("debug", event, fields))


Sweeping = Callable[[float], contextlib.AbstractAsyncContextManager[Harness]]


@contextlib.asynccontextmanager
async def on_shared_clock(
    servers: Servers, js: JetStreamContext, redis: Redis, sweep_seconds: float
) -> AsyncIterator[Harness]:
    """Intake on the shared clock with WINDOWS, sweeping every `sweep_seconds`; the clock
    is put back afterwards."""
    async with running_intake(
        servers.nats_url,
        servers.redis_url,
        js,
        clock="shared",
        feedback_window_sweep_seconds=sweep_seconds,
        **WINDOWS,
    ) as harness:
        try:
            yield harness
        finally:
            await reset_shared_clock(redis)


@pytest.fixture
def sweeping(servers: Servers, js: JetStreamContext, redis: Redis, clean: None) -> Sweeping:
    """Intake on the shared clock, sweeping every so many seconds (on_shared_clock)."""
    return functools.partial(on_shared_clock, servers, js, redis)


@pytest.fixture
async def windowed(sweeping: Sweeping) -> AsyncIterator[Harness]:
    async with sweeping(0.05) as harness:
        yield harness


@pytest.fixture
async def by_hand(sweeping: Sweeping) -> AsyncIterator[Harness]:
    """The loop's first round runs at start (nothing is resolved then); the test sweeps."""
    async with sweeping(3600) as harness:
        yield harness


async def resolved_ticket(intake: Harness, **report: Any) -> str:
    ticket_id = await intake.resolved("已更换玻璃", GRID, **report)
    assert (await intake.ticket(ticket_id))["status"] == "resolved"
    return ticket_id


async def closes(js: JetStreamContext, ticket_id: str) -> list[str]:
    """The reasons of every TicketClosed of this ticket in the stream, in order."""
    info = await js.stream_info("TICKETS")
    reasons = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg("TICKETS", seq)
        if message.subject == f"ticket.closed.{ticket_id}":
            reasons.append(json.loads(message.data or b"{}")["reason"])
    return reasons


def closed_entries(ticket: dict[str, Any]) -> list[str]:
    return [entry["summary"] for entry in ticket["history"] if entry["type"] == "TicketClosed"]


async def test_an_unrated_ticket_closes_once_when_its_window_passed(
    windowed: Harness, js: JetStreamContext, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = Lines()
    monkeypatch.setattr(feedback_window, "log", lines)
    unrated = await resolved_ticket(windowed)  # fire_box: 3 days
    rated = await resolved_ticket(windowed)
    response = await windowed.command(
        rated, "rating", None, {"rating": "satisfied"}, token=resident_link_token(rated)
    )
    assert response.status_code == 200, response.text
    waiting = await resolved_ticket(windowed, category="bus_obstruction")  # 7 days

    await asyncio.sleep(0.3)  # several sweeps: nothing is due yet
    assert (await windowed.ticket(unrated))["status"] == "resolved"
    before = await windowed.app.state.intake.store.get(unrated)

    await advance_shared_clock(redis, 4 * DAY)  # past fire_box's 3 days, not the 7
    ticket = await windowed.until(unrated, lambda t: t["status"] == "closed")
    assert closed_entries(ticket) == ["closed (feedback_window_elapsed)"]

    # Again, by hand, on the closed record and on the stale resolved one: both refused
    # and swallowed, nothing written; a full sweep finds nothing left to close.
    sweep = FeedbackWindow(windowed.app.state.intake, WindowPolicy.in_days(7, {"fire_box": 3}))
    current = await windowed.app.state.intake.store.get(unrated)
    assert not await sweep.close(current)
    assert not await sweep.close(before)
    assert await sweep.sweep() == 0
    await asyncio.sleep(0.3)  # and the loop keeps sweeping

    assert await closes(js, unrated) == ["feedback_window_elapsed"]
    ticket = await windowed.ticket(unrated)
    assert closed_entries(ticket) == ["closed (feedback_window_elapsed)"]
    assert ticket["version"] == current.version
    assert await closes(js, rated) == ["rated"]
    assert (await windowed.ticket(rated))["rating"] == "satisfied"
    assert (await windowed.ticket(waiting))["status"] == "resolved"  # inside its 7 days
    assert await closes(js, waiting) == []

    # One line for the one close, naming the ticket and nobody.
    infos = [(event, fields) for level, event, fields in lines.lines if level == "info"]
    assert infos == [
        (
            "ticket_closed_unrated",
            {
                "ticket_id": unrated,
                "category": "fire_box",
                "resolved_at": before.resolution.resolved_at.isoformat(),
                "window_days": 3.0,
            },
        )
    ]
    assert "13912345678" not in repr(lines.lines)
    assert "李女士" not in repr(lines.lines)

    await advance_shared_clock(redis, 4 * DAY)  # 8 days: the default window too
    ticket = await windowed.until(waiting, lambda t: t["status"] == "closed")
    assert closed_entries(ticket) == ["closed (feedback_window_elapsed)"]
    assert await closes(js, rated) == ["rated"]


async def test_the_sweep_reads_in_pages_and_closes_at_most_a_batch_a_round(
    by_hand: Harness, redis: Redis
) -> None:
    """Pages of one: each close takes a ticket out of the index being paged through, and
    a ticket left waiting stays in it; neither makes the sweep skip a due one."""
    first, second = await resolved_ticket(by_hand), await resolved_ticket(by_hand)
    waiting = await resolved_ticket(by_hand, category="bus_obstruction")
    third, fourth = await resolved_ticket(by_hand), await resolved_ticket(by_hand)
    await advance_shared_clock(redis, 4 * DAY)
    clock = by_hand.app.state.intake.clock
    await clock.refresh()  # the shared clock's offset now, not at its next refresh

    policy = WindowPolicy.in_days(7, {"fire_box": 3})
    sweep = FeedbackWindow(by_hand.app.state.intake, policy, batch=3, page=1)
    assert await sweep.sweep() == 3
    statuses = [(await by_hand.ticket(t))["status"] for t in (first, second, third, fourth)]
    assert statuses == ["closed", "closed", "closed", "resolved"]
    assert await sweep.sweep() == 1  # the rest, next round
    assert (await by_hand.ticket(fourth))["status"] == "closed"
    assert await sweep.sweep() == 0
    assert (await by_hand.ticket(waiting))["status"] == "resolved"
