"""The manual queue on a real Redis: a danger report waits first in its command centre's
queue, before ordinary reports that came in earlier, and the dispatcher reads why."""

import dataclasses
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from chuishao.common.clock import ManualClock
from chuishao.common.domain import Priority
from chuishao.router import handlers, manual
from chuishao.router.store import RoutingStore
from chuishao.router.triage import Suggestion
from unit.test_router_handlers import AT, SNAP, report

pytestmark = pytest.mark.usefixtures("clean")


class Unsure:
    def classify(self, text: str) -> Suggestion:
        return Suggestion(category="assistance", confidence=0.3, auto=False)


async def test_a_danger_goes_to_the_top_of_the_command_centres_queue(redis: Redis) -> None:
    snap = dataclasses.replace(SNAP, triage=Unsure())
    store = RoutingStore(redis)
    texts = [
        ("T20260105000301", "我就是想问问你们几点下班"),
        ("T20260105000302", "想反映一下小区门口的事情"),
        ("T20260105000303", "小区里天然气管道被挖断了，呲呲往外喷气"),
        ("T20260105000304", "电梯里有人被困，老人晕倒了"),
    ]
    for minutes, (ticket_id, text) in enumerate(texts):
        ticket = report(None, text, ticket_id=ticket_id)
        ticket = ticket.model_copy(update={"occurred_at": AT + timedelta(minutes=minutes)})
        then = dataclasses.replace(snap, clock=ManualClock(AT + timedelta(minutes=minutes)))
        outcome = handlers.route_submitted(ticket, then)
        assert outcome.state is not None
        await store.save(outcome.state, None)

    waiting = await store.queue("qingshi-command")
    listed = [manual.queued(state) for state in waiting]
    # The two dangers first (oldest of them first), then the ordinary ones, oldest first.
    assert [t.ticket_id for t in listed] == [
        "T20260105000303",
        "T20260105000304",
        "T20260105000301",
        "T20260105000302",
    ]
    assert [t.priority for t in listed[:2]] == [Priority.EMERGENCY, Priority.EMERGENCY]
    assert listed[2].priority == Priority.NORMAL
    assert listed[1].reason.startswith("险情 danger")
    assert "请立即拨打119" in listed[1].reason
