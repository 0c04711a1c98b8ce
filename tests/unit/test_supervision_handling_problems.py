"""平均办理时长, 每月一题 and 主动治理 (issue 19), pure: two months of generated history
folded through supervision's facts and counters exactly as the projection folds them
(each event adds `after − before`) give, for January, the figures computed from the
events alone (support.monthly_history); and the parts on their own: the handling clock,
a reopened ticket, linked reports and repeat reporters, proactive tickets kept out of
every assessed figure."""

from collections import Counter

from chuishao.common.domain import Channel, ClockKind, Level
from chuishao.common.events import Event, ReportSplit
from chuishao.supervision.assessment import load_policy
from chuishao.supervision.counters import ASSESSED
from chuishao.supervision.problems import Tally, street_problems, tally
from chuishao.supervision.projection import by_period
from chuishao.supervision.rates import Rates, rates_of
from support.monthly_history import PROBLEM_FIELDS, STREETS, ZONE, figures, generated
from support.supervision import PlaceInGrid, Script, fold_counters

Counters = Counter[tuple[str, str, str]]


def folded(events: list[Event]) -> Counters:
    """(scope, day, counter) → n, as the projection's counter hashes hold them."""
    return fold_counters(events, ZONE, by_period)


def month_counts(totals: Counters, scope: str, month: str) -> dict[str, int]:
    summed: Counter[str] = Counter()
    for (s, day, name), n in totals.items():
        if s == scope and day.startswith(month + "-"):
            summed[name] += n
    return {name: n for name, n in summed.items() if n}


def month_rates(totals: Counters, scope: str, month: str) -> Rates:
    return rates_of(scope, month, month_counts(totals, scope, month))


def problem_tallies(totals: Counters, street: str, month: str) -> dict[tuple[str, str], Tally]:
    keys = {s.split(":", 1)[1] for s, _, _ in totals if s.startswith(f"problem:{street}/")}
    result = {}
    for key in keys:
        reports = month_counts(totals, f"problem:{key}", month).get("reports", 0)
        if reports:
            _, grid, category = key.split("/")
            reporters = month_counts(totals, f"problem_reporter:{key}", month)
            result[(grid, category)] = tally(reports, reporters)
    return result


def test_generated_history_gives_the_independently_computed_figures() -> None:
    events = generated().events
    totals = folded(events)
    expected = figures(events, "2026-01", "2025-12")
    # Enough of everything for the comparison to mean something.
    assert len(expected.unit_hours) == 4
    assert sum(len(rows) for rows in expected.problems.values()) >= 6
    assert sum(expected.proactive.values()) >= 2
    assert any(row.repeat_reporters for rows in expected.problems.values() for row in rows)
    assert any(row.previous_rank for rows in expected.problems.values() for row in rows)

    for unit, hours in expected.unit_hours.items():
        assert month_rates(totals, f"unit:{unit}", "2026-01").average_handling_hours == hours
    for street, hours in expected.street_hours.items():
        rates = month_rates(totals, f"street:{street}", "2026-01")
        assert rates.average_handling_hours == hours
        assert rates.count("proactive") == expected.proactive[street]
        assert rates.count("proactive_resolved") == expected.proactive_resolved[street]

    policy = load_policy().problems
    for street in STREETS:
        got = street_problems(
            street,
            street,
            problem_tallies(totals, street, "2026-01"),
            problem_tallies(totals, street, "2025-12"),
            policy,
            str,
            {},
        )
        rows = [tuple(getattr(r, name) for name in PROBLEM_FIELDS) for r in got.rows]
        want = [p.row() for p in expected.problems.get(street, [])]
        assert rows == want, street


PLACE: PlaceInGrid = {"category": "fire_box", "street": "qingshi", "grid": "HY-01"}


def one_ticket(channel: Channel = Channel.SNAP_IT) -> Script:
    """Dispatched 0.5 h after it came in, a co-unit from 1 h, resolved at 10.5 h, reopened,
    resolved again at 20.5 h; two more reports linked, one by the same resident."""
    s = Script("H")
    s.submit("1", 0, "fire_box", "HY-01", channel=channel, reporter_ref="ref-a")
    s.dispatch("1", 0.5, "grid-heyuan", **PLACE)
    s.dispatch("1", 1, "zhifa-qingshi", level=Level.STREET, **PLACE)
    s.arm("1", 0.6, ClockKind.RESOLUTION, Level.COMMUNITY, 48)
    s.link("1", 2, "HL1", "ref-a")
    s.link("1", 3, "HL2", "ref-b")
    s.sign_off("1", 6, "zhifa-qingshi")
    s.resolve("1", 10.5, "grid-heyuan", "zhifa-qingshi")
    s.reopen("1", 11, 1, "grid-heyuan", "zhifa-qingshi")
    s.resolve("1", 20.5, "grid-heyuan", "zhifa-qingshi")
    return s


def test_the_handling_clock_runs_from_dispatch_to_the_resolution_now_standing() -> None:
    totals = folded(one_ticket().events)
    street = month_counts(totals, "street:qingshi", "2026-01")
    # First dispatch 0.5 h → the resolution after the reopen, 20.5 h: 20 h.
    assert (street["handled"], street["handling_seconds"]) == (1, 20 * 3600)
    # The lead from its dispatch (0.5 h) to 20.5 h; the co-unit's first sign-off (6 h)
    # was undone by the reopen, so from 1 h to the second resolution: 19.5 h.
    assert month_rates(totals, "unit:grid-heyuan", "2026-01").average_handling_hours == 20.0
    assert month_rates(totals, "unit:zhifa-qingshi", "2026-01").average_handling_hours == 19.5
    # Three reports of one problem, one resident twice.
    key = "qingshi/HY-01/fire_box"
    assert month_counts(totals, f"problem:{key}", "2026-01") == {"reports": 3}
    assert month_counts(totals, f"problem_reporter:{key}", "2026-01") == {"ref-a": 2, "ref-b": 1}


def test_an_unresolved_ticket_has_no_handling_time_and_a_reopen_takes_it_back() -> None:
    events = one_ticket().events
    reopened = next(e for e in events if e.type == "TicketReopened")
    upto = events[: events.index(reopened) + 1]
    street = month_counts(folded(upto), "street:qingshi", "2026-01")
    assert "handled" not in street
    assert "handling_seconds" not in street
    assert month_rates(folded(upto), "street:qingshi", "2026-01").average_handling_hours is None


def test_a_proactive_ticket_is_counted_apart_from_every_assessed_figure() -> None:
    totals = folded(one_ticket(Channel.PROACTIVE).events)
    for scope in ("all", "street:qingshi", "unit:grid-heyuan", "street_unit:qingshi/grid-heyuan"):
        counts = month_counts(totals, scope, "2026-01")
        assert counts["proactive"] == 1, scope
        assert counts["proactive_resolved"] == 1, scope
        assert not ASSESSED & counts.keys(), scope
    assert not [s for s, _, _ in totals if s.startswith("problem")]
    rates = month_rates(totals, "street:qingshi", "2026-01")
    assert rates.response_rate is None
    assert rates.average_handling_hours is None


def test_a_report_split_out_leaves_the_problem() -> None:
    """The counters follow the facts: a linked report split out leaves the problem."""
    s = one_ticket()
    s._add(ReportSplit, "1", 21, report_ticket_id="HL1", split_by="grid-heyuan")
    totals = folded(s.events)
    key = "qingshi/HY-01/fire_box"
    assert month_counts(totals, f"problem:{key}", "2026-01") == {"reports": 2}
    assert month_counts(totals, f"problem_reporter:{key}", "2026-01") == {"ref-a": 1, "ref-b": 1}


def test_ranking_needs_the_minimum_and_breaks_ties_by_repeat_reporters() -> None:
    policy = load_policy().problems
    now = {
        ("HY-01", "a"): Tally(3, 0),
        ("HY-02", "b"): Tally(3, 1),
        ("HY-01", "c"): Tally(1, 0),  # once: not a recurring problem
    }
    before = {("HY-01", "a"): Tally(5, 0)}
    got = street_problems("qingshi", "青石", now, before, policy, str, {"a": "甲"})
    assert [(r.grid, r.category, r.rank) for r in got.rows] == [
        ("HY-02", "b", 1),
        ("HY-01", "a", 2),
    ]
    first_was = got.rows[1]
    assert (first_was.previous_rank, first_was.change, first_was.category_name) == (1, -2, "甲")
    assert got.rows[0].previous_rank is None
