"""The rating window's decision (chuishao.intake.feedback_window.due), on records built
by the lifecycle itself: a resolved ticket nobody rated is due once its window — its
category's own, or the default — has passed since its latest resolution; a rated, a not
yet resolved or a still-waiting one is not."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from chuishao.common.clock import ManualClock
from chuishao.common.commands import (
    AcknowledgeTicket,
    RateTicket,
    ResolveTicket,
    TicketCommand,
)
from chuishao.common.domain import Rating
from chuishao.intake.feedback_window import WindowPolicy, due, window_ends
from chuishao.intake.lifecycle import Actor, EventIds, Status, decide
from chuishao.intake.projection import apply, created
from chuishao.intake.records import TicketRecord
from chuishao.intake.settings import IntakeSettings
from support.factories import dispatched, submitted

GRID = Actor("unit", "grid-heyuan")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
# fire_box waits 3 days for its rating; every other category the default 7.
POLICY = WindowPolicy.in_days(7, {"fire_box": 3})


def run(record: TicketRecord, command: TicketCommand, actor: Actor, at: datetime) -> TicketRecord:
    for event in decide(record, command, actor, at, EventIds(None, record.ticket_id)):
        record = apply(record, event)
    return record


def in_progress(ticket_id: str, category: str = "fire_box") -> TicketRecord:
    event = submitted(ManualClock(START), ticket_id)
    event = event.model_copy(update={"category": category})
    record = apply(created(event), dispatched(event))
    return run(record, AcknowledgeTicket(ticket_id=ticket_id), GRID, START + timedelta(hours=1))


def resolved(ticket_id: str, category: str = "fire_box", at: datetime = START) -> TicketRecord:
    record = in_progress(ticket_id, category)
    record = run(record, ResolveTicket(ticket_id=ticket_id, note="已更换"), GRID, at)
    assert record.status == Status.RESOLVED
    return record


def rated(record: TicketRecord, rating: Rating, at: datetime) -> TicketRecord:
    resident = Actor("resident", record.ticket_id)
    return run(record, RateTicket(ticket_id=record.ticket_id, rating=rating), resident, at)


def ids(records: list[TicketRecord]) -> list[str]:
    return [record.ticket_id for record in records]


def test_the_window_is_the_categorys_own_or_the_default() -> None:
    assert POLICY.window("fire_box") == 3 * DAY
    assert POLICY.window("parking") == 7 * DAY
    assert POLICY.window(None) == 7 * DAY
    assert POLICY.shortest == 3 * DAY
    assert WindowPolicy.in_days(7, {}).shortest == 7 * DAY


def test_a_resolved_unrated_ticket_is_due_once_its_categorys_window_passed() -> None:
    fire_box = resolved("T20260105000001", "fire_box")
    parking = resolved("T20260105000002", "parking")
    assert window_ends(fire_box, POLICY) == START + 3 * DAY
    assert window_ends(parking, POLICY) == START + 7 * DAY

    assert due([fire_box, parking], START + 3 * DAY - timedelta(seconds=1), POLICY) == []
    # The override: fire_box's 3 days are over, parking's default 7 are not.
    assert ids(due([fire_box, parking], START + 3 * DAY, POLICY)) == [fire_box.ticket_id]
    assert ids(due([fire_box, parking], START + 7 * DAY, POLICY)) == [
        fire_box.ticket_id,
        parking.ticket_id,
    ]


def test_the_window_counts_from_the_resolution_not_the_submission() -> None:
    late = resolved("T20260105000003", "fire_box", at=START + 10 * DAY)
    assert due([late], START + 12 * DAY, POLICY) == []
    assert ids(due([late], START + 13 * DAY, POLICY)) == [late.ticket_id]


def test_a_rated_ticket_is_never_due() -> None:
    satisfied = rated(resolved("T20260105000004"), Rating.SATISFIED, START + DAY)
    assert satisfied.status == Status.CLOSED
    # Unsatisfied: reopened, back with the unit; not resolved, so not waiting for a rating.
    reopened = rated(resolved("T20260105000005"), Rating.UNSATISFIED, START + DAY)
    assert reopened.status == Status.DISPATCHED
    assert due([satisfied, reopened], START + 30 * DAY, POLICY) == []
    # Still resolved but with a rating after its resolution (as a record caught between
    # the rating and its close would be): not due either.
    caught = resolved("T20260105000006")
    rating = rated(caught, Rating.SATISFIED, START + DAY).history[-2]
    assert rating.type == "TicketRated"
    caught = caught.model_copy(update={"history": [*caught.history, rating]})
    assert caught.status == Status.RESOLVED
    assert window_ends(caught, POLICY) is None
    assert due([caught], START + 30 * DAY, POLICY) == []


def test_a_resolution_after_an_unsatisfied_rating_waits_for_a_rating_of_its_own() -> None:
    record = rated(resolved("T20260105000007"), Rating.UNSATISFIED, START + DAY)
    record = run(record, AcknowledgeTicket(ticket_id=record.ticket_id), GRID, START + 2 * DAY)
    record = run(
        record,
        ResolveTicket(ticket_id=record.ticket_id, note="再次处理"),
        GRID,
        START + 4 * DAY,
    )
    assert (record.status, record.rating) == (Status.RESOLVED, Rating.UNSATISFIED)
    # The earlier cycle's rating does not count; the window runs from the new resolution.
    assert window_ends(record, POLICY) == START + 7 * DAY
    assert due([record], START + 7 * DAY - timedelta(seconds=1), POLICY) == []
    assert ids(due([record], START + 7 * DAY, POLICY)) == [record.ticket_id]


def test_a_ticket_not_resolved_is_never_due() -> None:
    working = in_progress("T20260105000008")
    assert working.status == Status.IN_PROGRESS
    waiting = created(submitted(ManualClock(START), "T20260105000009"))
    assert due([working, waiting], START + 365 * DAY, POLICY) == []
    assert window_ends(working, POLICY) is None


def test_the_settings_read_the_overrides_as_json_and_refuse_a_window_of_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = IntakeSettings()
    assert defaults.rating_window_days == 7.0
    assert defaults.rating_window_days_by_category == {}
    assert defaults.feedback_window_sweep_seconds == 60.0
    monkeypatch.setenv("CHUISHAO_RATING_WINDOW_DAYS_BY_CATEGORY", '{"fire_box": 3, "parking": 1.5}')
    settings = IntakeSettings()
    assert settings.rating_window_days_by_category == {"fire_box": 3.0, "parking": 1.5}
    policy = WindowPolicy.in_days(
        settings.rating_window_days, settings.rating_window_days_by_category
    )
    assert policy.window("parking") == timedelta(days=1.5)
    monkeypatch.setenv("CHUISHAO_RATING_WINDOW_DAYS_BY_CATEGORY", '{"fire_box": 0}')
    with pytest.raises(ValidationError, match="greater than 0"):
        IntakeSettings()
