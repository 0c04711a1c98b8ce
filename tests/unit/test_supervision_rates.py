"""The rates of a scripted day, through supervision's pure functions, equal the values
worked out by hand (tests/support/supervision.py); counting by differences gives the
same totals as counting the final tickets, whatever order tickets finish in."""

from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chuishao.common.events import Event
from chuishao.supervision.counters import contributions, difference
from chuishao.supervision.rates import Rates, rates_of
from chuishao.supervision.ticket import SupervisedTicket, apply
from support.supervision import (
    EXPECTED_ALL,
    EXPECTED_ALL_RATES,
    EXPECTED_MONDAY_RATES,
    EXPECTED_STATES,
    EXPECTED_TUESDAY_RATES,
    EXPECTED_UNIT_COUNTS,
    EXPECTED_UNIT_RATES,
    scripted_day,
)

BEIJING = ZoneInfo("Asia/Shanghai")


def project(
    events: list[Event],
) -> tuple[dict[str, SupervisedTicket], Counter[tuple[str, str, str]]]:
    """What the store does, in memory: fold each event in and add the difference."""
    tickets: dict[str, SupervisedTicket] = {}
    counters: Counter[tuple[str, str, str]] = Counter()
    for event in events:
        before = tickets.get(event.ticket_id)
        if before is not None and event.event_id in before.applied:
            continue
        after = apply(before, event, BEIJING)
        old = (
            {(s, before.day, n): v for (s, n), v in contributions(before).items()} if before else {}
        )
        new = {(s, after.day, n): v for (s, n), v in contributions(after).items()}
        counters.update(difference(old, new))
        tickets[event.ticket_id] = after
    return tickets, counters


def rates(counters: Counter[tuple[str, str, str]], scope: str, *days: str) -> Rates:
    counts: Counter[str] = Counter()
    for (s, day, name), n in counters.items():
        if s == scope and (not days or day in days):
            counts[name] += n
    return rates_of(scope, ",".join(days) or "all", {k: v for k, v in counts.items() if v})


def assert_rates(actual: Rates, expected: dict[str, float | None]) -> None:
    for name, value in expected.items():
        got = getattr(actual, name)
        assert got == (pytest.approx(value) if value is not None else None), (name, actual)


def test_the_scripted_day_gives_the_hand_computed_totals_and_rates() -> None:
    _, counters = project(scripted_day().events)
    totals = rates(counters, "all")
    assert {name: totals.count(name) for name in EXPECTED_ALL} == EXPECTED_ALL
    assert_rates(totals, EXPECTED_ALL_RATES)


def test_each_ticket_counts_in_the_day_it_came_in() -> None:
    _, counters = project(scripted_day().events)
    assert_rates(rates(counters, "all", "2026-01-05"), EXPECTED_MONDAY_RATES)
    assert_rates(rates(counters, "all", "2026-01-06"), EXPECTED_TUESDAY_RATES)


def test_each_unit_is_measured_on_its_own_part() -> None:
    _, counters = project(scripted_day().events)
    for unit, expected in EXPECTED_UNIT_RATES.items():
        assert_rates(rates(counters, f"unit:{unit}"), expected)
    for unit, expected_counts in EXPECTED_UNIT_COUNTS.items():
        unit_rates = rates(counters, f"unit:{unit}")
        assert {name: unit_rates.count(name) for name in expected_counts} == expected_counts


def test_streets_grids_and_categories_count_their_own_tickets() -> None:
    _, counters = project(scripted_day().events)
    assert rates(counters, "street:qingshi").count("received") == 5  # A B D F G
    assert rates(counters, "street:yunmen").count("received") == 1  # C
    assert rates(counters, "grid:HY-01").count("received") == 4  # A D E F
    assert rates(counters, "category:fire_box").count("received") == 5  # A D E F G
    assert rates(counters, "category:traffic_obstruction").count("whistle_coordination") == 1


def test_ticket_states_follow_the_lifecycle() -> None:
    tickets, _ = project(scripted_day().events)
    states = Counter(facts.status.value for facts in tickets.values())
    assert {state: states.get(state, 0) for state in EXPECTED_STATES} == EXPECTED_STATES
    assert tickets["SD"].overdue_since is not None
    assert tickets["SD"].escalations == ["street"]


def test_a_repeated_event_changes_nothing() -> None:
    events = scripted_day().events
    _, once = project(events)
    _, twice = project([event for event in events for _ in range(2)])
    assert +once == +twice


def test_an_acknowledgement_after_its_deadline_is_late_even_before_sla_notices() -> None:
    script = scripted_day()
    # The bus company's report-for-duty deadline is 2.02 h; sla's breach is removed, so
    # only the deadline itself can tell.
    events = [e for e in script.events if e.type != "SlaBreached" or e.ticket_id != "SC"]
    tickets, _ = project(events)
    assert tickets["SC"].units["bus-yunxi"].responded_late


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_counters_always_equal_the_sum_over_final_tickets(random: object) -> None:
    """Interleave the tickets' events differently (each ticket keeps its own order):
    the differences always add up to the final tickets' contributions."""
    script = scripted_day()
    queues: dict[str, list[Event]] = {}
    for event in script.events:
        queues.setdefault(event.ticket_id, []).append(event)
    interleaved: list[Event] = []
    while queues:
        ticket_id = random.choice(sorted(queues))  # type: ignore[attr-defined]
        interleaved.append(queues[ticket_id].pop(0))
        if not queues[ticket_id]:
            del queues[ticket_id]
    tickets, counters = project(interleaved)
    recount: Counter[tuple[str, str, str]] = Counter()
    for facts in tickets.values():
        recount.update({(s, facts.day, n): v for (s, n), v in contributions(facts).items()})
    assert +counters == +recount


def test_a_supervisor_summoned_by_the_breach_is_measured_on_its_own_deadline() -> None:
    script = scripted_day()
    script.ack("D", 49.5, "grid-heyuan")
    script.sign_off("D", 50, "grid-heyuan")
    script.sign_off("D", 50, "qingshi-command")
    script.resolve("D", 50, "grid-heyuan", "qingshi-command")
    tickets, counters = project(script.events)
    assert tickets["SD"].resolved_late  # the ticket missed its 48 h
    assert tickets["SD"].units["grid-heyuan"].signed_off_late
    assert not tickets["SD"].units["qingshi-command"].signed_off_late  # 24 h from 48.62
    assert rates(counters, "unit:qingshi-command").on_time_resolution_rate == 1.0
    assert tickets["SD"].overdue_since is None
