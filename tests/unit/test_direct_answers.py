"""直接答复: a call answered from the knowledge base starts closed, is routed by nobody and
counts apart: in `answered_directly` and the direct-answer rate (直接答复率) of all
received, never in the dispatch-based rates."""

from collections import Counter
from zoneinfo import ZoneInfo

from chuishao.common.domain import Channel, DirectAnswer, Location, Priority
from chuishao.common.events import Event, TicketSubmitted
from chuishao.common.status import Progress, Status, reduce
from chuishao.supervision.counters import contributions
from chuishao.supervision.rates import rates_of
from support.supervision import Script, fold_counters

BEIJING = ZoneInfo("Asia/Shanghai")
ANSWER = DirectAnswer(entry_id="kb-heating", version=1, answer="供暖季为11月15日至次年3月15日")


def counts_of(events: list[Event]) -> Counter[tuple[str, str]]:
    return fold_counters(events, BEIJING, contributions)


def answered_call(s: Script, name: str, hours: float) -> None:
    """A call about the heating season, answered from the knowledge base."""
    s._add(
        TicketSubmitted,
        name,
        hours,
        category="heating",
        description="问供暖时间",
        priority=Priority.NORMAL,
        channel=Channel.HOTLINE_12345,
        location=Location(address="来电咨询"),
        answered=ANSWER,
    )


def test_an_answered_call_is_closed_by_the_one_reducer() -> None:
    s = Script("W")
    answered_call(s, "A", 0)
    [event] = s.events
    assert reduce(Progress(ticket_id=event.ticket_id), event).status == Status.CLOSED


def test_answered_calls_count_apart_from_dispatched_work() -> None:
    s = Script("W")
    s.submit("A", 0, "fire_box", "HY-01")  # an ordinary report, dispatched
    s.dispatch("A", 0.1, "grid-heyuan", category="fire_box", street="qingshi", grid="HY-01")
    for name in ("B", "C", "D"):
        answered_call(s, name, 1)
    counters = counts_of(s.events)
    totals = rates_of("all", "all", {n: c for (scope, n), c in counters.items() if scope == "all"})
    assert totals.count("received") == 4
    assert totals.count("answered_directly") == 3
    assert totals.direct_answer_rate == 0.75
    assert totals.count("dispatched") == 1  # the answered calls are in no dispatch rate
    assert totals.count("closed") == 3
