from datetime import UTC, datetime, timedelta

from chuishao.common.domain import ClockKind, Level
from chuishao.common.events import (
    Event,
    SlaBreached,
    SlaClockArmed,
    TicketAcknowledged,
    TicketReopened,
)
from chuishao.intake.lifecycle import Status
from chuishao.intake.projection import apply, created
from chuishao.intake.records import TicketRecord
from support.factories import dispatched, submitted, submitted_record

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def record_of(event_time: datetime) -> TicketRecord:
    return submitted_record(submitted(), event_time)


def _resolution_clock(cause: Event, hours: int) -> Event:
    """The community's resolution clock, armed when `cause` happened, `hours` long."""
    due = cause.occurred_at + timedelta(hours=hours)
    return _armed(cause, ClockKind.RESOLUTION, Level.COMMUNITY, None, due, hours * 3600)


def test_a_dispatch_assigns_the_unit_and_moves_the_status() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    record = apply(record_of(start), dispatched(submitted()))
    assert record.status == Status.DISPATCHED
    assert [a.unit_id for a in record.assignments] == ["grid-heyuan"]
    assert record.version == 2
    assert [h.type for h in record.history] == ["TicketSubmitted", "TicketDispatched"]


def _armed_record(hours: int) -> tuple[Event, Event, TicketRecord]:
    """A ticket dispatched, then its resolution clock of `hours` armed: the dispatch, the
    clock and the record that holds both."""
    dispatch = dispatched(submitted())
    armed = _resolution_clock(dispatch, hours)
    return dispatch, armed, apply(apply(record_of(START), dispatch), armed)


def test_an_armed_clock_sets_the_deadline() -> None:
    dispatch, armed, record = _armed_record(48)
    assert record.deadline == dispatch.occurred_at + timedelta(hours=48)
    assert record.has_applied(armed.event_id)


def test_applying_the_same_event_twice_is_visible_in_the_history() -> None:
    """The store skips events already in the history; the history is what tells."""
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    dispatch = dispatched(submitted())
    record = apply(record_of(start), dispatch)
    assert record.has_applied(dispatch.event_id)
    assert not record_of(start).has_applied(dispatch.event_id)


def test_a_record_starts_from_its_submission_alone_or_with_what_intake_knows() -> None:
    """One factory for submit and rebuild: the public event alone gives a SUBMITTED record
    without a reporter at the event's time; a duplicate starts LINKED to its ticket."""
    event = submitted()
    rebuilt = created(event)
    assert rebuilt.status == Status.SUBMITTED
    assert rebuilt.reporter is None
    assert rebuilt.linked_to is None
    assert rebuilt.submitted_at == rebuilt.updated_at == event.occurred_at
    assert rebuilt.has_applied(event.event_id)
    at = event.occurred_at - timedelta(seconds=1)
    linked = created(event, linked_to="T20260105000000", submitted_at=at)
    assert linked.status == Status.LINKED
    assert linked.linked_to == "T20260105000000"
    assert linked.submitted_at == linked.updated_at == at


def _armed(
    cause: Event,
    kind: ClockKind,
    level: Level,
    unit: str | None,
    due: datetime,
    limit_seconds: int,
    discriminator: str = "",
) -> Event:
    return SlaClockArmed.caused_by(
        cause,
        producer="sla",
        occurred_at=cause.occurred_at,
        discriminator=discriminator,
        clock=kind,
        level=level,
        unit_id=unit,
        limit_seconds=limit_seconds,
        deadline=due,
    )


def _clock(cause: Event, kind: ClockKind, level: Level, unit: str | None, due: datetime) -> Event:
    return _armed(cause, kind, level, unit, due, 3600, f"{kind}-{level}-{due.isoformat()}")


def _breach(cause: Event, kind: ClockKind, level: Level, unit: str | None, due: datetime) -> Event:
    return SlaBreached.caused_by(
        cause,
        producer="sla",
        occurred_at=due + timedelta(minutes=1),
        discriminator=f"{kind}-{level}",
        clock=kind,
        level=level,
        unit_id=unit,
        deadline=due,
        overdue_seconds=60,
    )


def test_an_escalated_ticket_stays_overdue_though_the_next_level_has_a_fresh_clock() -> None:
    # The overdue list is what a centre urges: sla escalating at once must not empty it.
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    dispatch = dispatched(submitted())
    missed = dispatch.occurred_at + timedelta(hours=48)
    fresh = missed + timedelta(hours=24)
    record = apply(record_of(start), dispatch)
    record = apply(record, _clock(dispatch, ClockKind.RESOLUTION, Level.COMMUNITY, None, missed))
    breach = _breach(dispatch, ClockKind.RESOLUTION, Level.COMMUNITY, None, missed)
    record = apply(record, breach)
    record = apply(record, _clock(breach, ClockKind.RESOLUTION, Level.STREET, None, fresh))
    assert record.deadline == fresh  # what the units work to now
    assert record.overdue_since == missed  # and what they have already missed


def test_a_late_report_in_is_no_longer_overdue_once_the_unit_reports() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    dispatch = dispatched(submitted())
    report_by = dispatch.occurred_at + timedelta(minutes=30)
    resolve_by = dispatch.occurred_at + timedelta(hours=48)
    record = apply(record_of(start), dispatch)
    for kind, unit, due in (
        (ClockKind.REPORT_FOR_DUTY, "grid-heyuan", report_by),
        (ClockKind.RESOLUTION, None, resolve_by),
    ):
        record = apply(record, _clock(dispatch, kind, Level.COMMUNITY, unit, due))
    breach = _breach(dispatch, ClockKind.REPORT_FOR_DUTY, Level.COMMUNITY, "grid-heyuan", report_by)
    record = apply(record, breach)
    assert record.overdue_since == report_by
    acknowledged = TicketAcknowledged.caused_by(
        breach,
        producer="intake",
        occurred_at=report_by + timedelta(hours=1),
        unit_id="grid-heyuan",
    )
    record = apply(record, acknowledged)
    assert record.breached == []
    assert record.overdue_since == resolve_by


def test_a_reopened_ticket_shows_no_deadline_of_its_last_cycle() -> None:
    """Between TicketReopened and sla's new SlaClockArmed the old cycle's resolution clock
    (long passed) must not be the ticket's deadline: the resident's page would say the
    ticket is 25 hours overdue the moment they rated 不满意."""
    dispatch, _, record = _armed_record(24)
    assert record.deadline == dispatch.occurred_at + timedelta(hours=24)
    reopened = TicketReopened.caused_by(
        dispatch,
        producer="intake",
        occurred_at=dispatch.occurred_at + timedelta(hours=49),
        complaint="还是没修好",
        units=("grid-heyuan",),
        reopen_count=1,
    )
    record = apply(record, reopened)
    assert record.deadline is None
    assert record.overdue_since is None
    fresh = _resolution_clock(reopened, 24)
    assert apply(record, fresh).deadline == reopened.occurred_at + timedelta(hours=24)
