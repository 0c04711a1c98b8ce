"""A ticket closed because its rating window passed (TicketClosed reason
feedback_window_elapsed) is never satisfied: the satisfaction rate counts ratings only.
It counts as closed without a rating, and in the callback rate (回访率) = rated /
(rated + closed without a rating) of the ticket's scopes and of its unit."""

from collections import Counter
from zoneinfo import ZoneInfo

from chuishao.common.domain import Rating
from chuishao.common.events import Event, TicketClosed
from chuishao.supervision.counters import contributions
from chuishao.supervision.rates import DEFINITIONS, Rates, rates_of
from support.supervision import Place, Script, fold_counters

BEIJING = ZoneInfo("Asia/Shanghai")
GRID = "grid-heyuan"
QINGSHI: Place = {"street": "qingshi", "category": "fire_box"}


def counts_of(events: list[Event]) -> Counter[tuple[str, str]]:
    """What the store keeps, in memory: each event folded in, the difference added."""
    return fold_counters(events, BEIJING, contributions)


def rates(counters: Counter[tuple[str, str]], scope: str) -> Rates:
    counts = {name: n for (s, name), n in counters.items() if s == scope and n}
    return rates_of(scope, "all", counts)


def resolved(s: Script, name: str, hours: float) -> None:
    s.submit(name, hours, "fire_box", "HY-01")
    s.dispatch(name, hours + 0.01, GRID, grid="HY-01", **QINGSHI)
    s.ack(name, hours + 0.1, GRID)
    s.resolve(name, hours + 1, GRID)


def window_closed(s: Script, name: str, hours: float) -> None:
    s._add(TicketClosed, name, hours, reason="feedback_window_elapsed")


def test_an_unrated_close_is_not_satisfied_and_counts_as_closed_without_a_rating() -> None:
    s = Script("W")
    resolved(s, "A", 0)  # rated 满意, closed
    s.rate("A", 2, Rating.SATISFIED, GRID)
    s.close("A", 2)
    resolved(s, "B", 0)  # nobody rated it: closed when its window passed
    window_closed(s, "B", 7 * 24 + 1)
    resolved(s, "C", 0)  # resolved, still inside its window
    resolved(s, "D", 0)  # withdrawn: closed, but not for want of a rating
    s._add(TicketClosed, "D", 3, reason="withdrawn")
    counters = counts_of(s.events)

    for scope in ("all", "street:qingshi", "category:fire_box", f"unit:{GRID}"):
        totals = rates(counters, scope)
        assert totals.count("rated") == 1, scope  # A's rating only
        assert totals.count("satisfied") == 1, scope
        assert totals.satisfaction_rate == 1.0, scope  # B is in neither count
        assert totals.count("closed_unrated") == 1, scope  # B
        assert totals.count("feedback_ended") == 2, scope  # A rated + B unrated
        assert totals.callback_rate == 0.5, scope
        assert totals.count("closed") == 3, scope  # A B D: B is closed all the same


def test_only_unrated_closes_make_the_satisfaction_rate_undefined_not_zero_or_full() -> None:
    s = Script("U")
    resolved(s, "A", 0)
    window_closed(s, "A", 8 * 24)
    totals = rates(counts_of(s.events), "all")
    assert (totals.count("rated"), totals.count("satisfied")) == (0, 0)
    assert totals.satisfaction_rate is None  # no rating at all: "—", never 0 % or 100 %
    assert totals.strict_satisfaction_rate is None
    assert totals.count("closed_unrated") == 1
    assert totals.callback_rate == 0.0


def test_a_reopened_ticket_rated_once_then_left_unrated_counts_both_resolutions() -> None:
    """不满意 reopens; the second resolution's window passes unrated: one rating (not
    satisfied) and one unrated end, so the callback rate is 1/2, satisfaction 0/1."""
    s = Script("R")
    resolved(s, "A", 0)
    s.rate("A", 2, Rating.UNSATISFIED, GRID)
    s.reopen("A", 2, 1, GRID)
    s.dispatch("A", 2.01, GRID, grid="HY-01", **QINGSHI)
    s.ack("A", 2.1, GRID)
    s.resolve("A", 5, GRID)
    window_closed(s, "A", 5 + 7 * 24)
    totals = rates(counts_of(s.events), "all")
    assert totals.satisfaction_rate == 0.0
    assert totals.count("closed_unrated") == 1
    assert totals.callback_rate == 0.5


def test_the_callback_rate_is_a_published_definition() -> None:
    assert DEFINITIONS["callback_rate"] == ("rated", "feedback_ended")
    assert DEFINITIONS["satisfaction_rate"] == ("satisfied", "rated")
    assert rates_of("all", "all", {}).callback_rate is None
