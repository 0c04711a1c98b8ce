"""The points rules (chuishao.points.ledger, the policy in data/points.toml): what earns,
what earns nothing, what is taken back, and the daily cap."""

from datetime import UTC, datetime, timedelta

import pytest

from chuishao.common.events import PointsExchanged
from chuishao.points.ledger import Ledger
from chuishao.points.policy import PointsPolicy
from support.points_events import (
    MORNING,
    NEIGHBOUR,
    RESIDENT,
    accepted,
    closed,
    linked,
    resolved,
    split,
    submitted,
)

POLICY = PointsPolicy.load()


def ledger() -> Ledger:
    return Ledger.empty(POLICY)


def test_the_shipped_policy() -> None:
    assert (POLICY.accepted, POLICY.resolved, POLICY.daily_cap) == (5, 10, 30)
    assert POLICY.timezone == "Asia/Shanghai"
    assert set(POLICY.void_close_reasons) == {"duplicate", "withdrawn"}


def test_a_report_earns_when_accepted_and_when_resolved_once_each() -> None:
    book = ledger()
    report = submitted("T1")
    for event in (
        report,
        accepted(report),
        accepted(report, unit="co-handler"),  # a second unit summoned: not a new acceptance
        resolved(report),
        resolved(report, at=report.occurred_at + timedelta(days=1)),  # resolved again
    ):
        book.apply(event)
    assert book.balances[RESIDENT] == 15
    assert [(e.kind, e.reason, e.points) for e in book.history[RESIDENT]] == [
        ("earned", "accepted", 5),
        ("earned", "resolved", 10),
    ]


def test_the_same_event_twice_changes_nothing() -> None:
    book = ledger()
    report = submitted("T1")
    dispatch = accepted(report)
    for event in (report, dispatch, dispatch, report, dispatch):
        book.apply(event)
    assert book.balances[RESIDENT] == 5
    assert len(book.history[RESIDENT]) == 1


def test_a_dispatch_before_the_submission_still_earns_once_the_reporter_is_known() -> None:
    book = ledger()
    report = submitted("T1")
    book.apply(accepted(report))
    assert RESIDENT not in book.balances
    book.apply(report)
    assert book.balances[RESIDENT] == 5


def test_a_report_without_a_reporter_reference_earns_nothing() -> None:
    book = ledger()
    report = submitted("T1", reporter_ref=None)
    book.apply(report)
    book.apply(accepted(report))
    assert book.balances == {}


def test_a_duplicate_earns_nothing() -> None:
    """A report linked at intake is never submitted to the router nor dispatched."""
    book = ledger()
    duplicate = submitted("T2")
    book.apply(linked(duplicate, lead_ticket_id="T1"))
    book.apply(resolved(duplicate))  # even if a resolution named it
    assert book.balances.get(RESIDENT, 0) == 0
    assert book.history.get(RESIDENT, []) == []


@pytest.mark.parametrize("reason", ["duplicate", "withdrawn"])
def test_points_given_are_taken_back_when_the_report_is_closed_as(reason: str) -> None:
    book = ledger()
    report = submitted("T1")
    for event in (report, accepted(report), resolved(report), closed(report, reason)):
        book.apply(event)
    assert book.balances[RESIDENT] == 0
    assert [(e.kind, e.points, e.reason) for e in book.history[RESIDENT]][-2:] == [
        ("reversed", -5, reason),
        ("reversed", -10, reason),
    ]
    book.apply(resolved(report, at=report.occurred_at + timedelta(days=2)))  # nothing more
    assert book.balances[RESIDENT] == 0


def test_a_closing_after_rating_keeps_the_points() -> None:
    book = ledger()
    report = submitted("T1")
    for event in (report, accepted(report), resolved(report), closed(report, "rated")):
        book.apply(event)
    assert book.balances[RESIDENT] == 15


def test_a_later_link_takes_back_and_a_split_lets_it_earn_again() -> None:
    book = ledger()
    report = submitted("T3")
    book.apply(report)
    book.apply(accepted(report))
    book.apply(linked(report, lead_ticket_id="T1"))
    assert book.balances[RESIDENT] == 0
    book.apply(split(report, lead_ticket_id="T1"))
    again = report.model_copy(update={"event_id": "sub-T3-again"})
    book.apply(again)
    assert book.balances[RESIDENT] == 5  # it was accepted: it earns that again
    ids = [e.entry_id for e in book.history[RESIDENT]]
    assert ids == ["T3/accepted/0", "T3/accepted/0/reversed", "T3/accepted/1"]


def test_the_daily_cap_in_shanghai_days() -> None:
    book = ledger()
    # One report accepted, then 4 accepted and resolved on 5 January (Shanghai): 65 > 30.
    first = submitted("T7", at=MORNING - timedelta(minutes=5))
    book.apply(first)
    book.apply(accepted(first))
    for n in range(4):
        report = submitted(f"T{n}", at=MORNING + timedelta(minutes=n))
        for event in (report, accepted(report), resolved(report)):
            book.apply(event)
    assert book.balances[RESIDENT] == 30
    assert book.earned[(RESIDENT, "2026-01-05")] == 30
    assert [e.points for e in book.history[RESIDENT] if e.capped] == [
        5,
        0,
        0,
        0,
        0,
    ]  # 10 cut to 5, then nothing
    # 23:30 in Shanghai on 5 January is still capped; 00:30 on the 6th (16:30 UTC) is not.
    late = submitted("T8", at=datetime(2026, 1, 5, 15, 29, tzinfo=UTC))
    book.apply(late)
    book.apply(accepted(late))
    assert book.balances[RESIDENT] == 30
    next_day = submitted("T9", at=datetime(2026, 1, 5, 16, 29, tzinfo=UTC))
    book.apply(next_day)
    book.apply(accepted(next_day))
    assert book.balances[RESIDENT] == 35
    assert book.earned[(RESIDENT, "2026-01-06")] == 5


def test_the_cap_is_per_reporter_and_a_reversal_gives_no_room_back() -> None:
    book = ledger()
    reports = [submitted(f"T{n}", at=MORNING + timedelta(minutes=n)) for n in range(2)]
    for report in reports:
        for event in (report, accepted(report), resolved(report)):
            book.apply(event)
    book.apply(closed(reports[0], "withdrawn"))
    third = submitted("T5", at=MORNING + timedelta(hours=1))
    for event in (third, accepted(third), resolved(third)):
        book.apply(event)
    assert book.earned[(RESIDENT, "2026-01-05")] == 30
    assert book.balances[RESIDENT] == 15  # 30 earned, 15 taken back
    other = submitted("T6", reporter_ref=NEIGHBOUR)
    book.apply(other)
    book.apply(accepted(other))
    assert book.balances[NEIGHBOUR] == 5


def test_an_exchange_is_a_line_of_the_ledger_once() -> None:
    book = ledger()
    report = submitted("T1")
    for event in (report, accepted(report), resolved(report)):
        book.apply(event)
    exchange = PointsExchanged(
        event_id="ex-000001",
        occurred_at=MORNING + timedelta(days=1),
        producer="points",
        reporter_ref=RESIDENT,
        points=12,
        goods="洗衣液 1 瓶",
        centre="和园社区服务站",
        balance_after=3,
    )
    book.exchange(exchange)
    book.exchange(exchange)
    assert book.balances[RESIDENT] == 3
    assert book.history[RESIDENT][-1].kind == "exchanged"


def test_a_policy_file_is_validated(tmp_path) -> None:
    path = tmp_path / "points.toml"
    path.write_text('accepted = 1\nresolved = 2\ndaily_cap = 3\ntimezone = "Asia/Shanghai"\n')
    assert PointsPolicy.load(path).daily_cap == 3
    path.write_text("accepted = -1\nresolved = 2\ndaily_cap = 3\n")
    with pytest.raises(ValueError, match="accepted"):
        PointsPolicy.load(path)
