from datetime import UTC, datetime, timedelta

from chuishao.common.domain import ClockKind, Level
from chuishao.common.events import SlaClockArmed
from chuishao.intake.lifecycle import Status
from chuishao.intake.projection import apply, created, history_entry
from chuishao.intake.records import TicketRecord
from support.factories import dispatched, submitted


def record_of(event_time: datetime) -> TicketRecord:
    event = submitted()
    return TicketRecord(
        ticket_id=event.ticket_id,
        correlation_id=event.correlation_id,
        status=Status.SUBMITTED,
        category=event.category,
        description=event.description,
        priority=event.priority,
        channel=event.channel,
        location=event.location,
        media_urls=(),
        reporter=None,
        reporter_ref=None,
        submitted_at=event_time,
        updated_at=event_time,
        history=[history_entry(event)],
    )


def test_a_dispatch_assigns_the_unit_and_moves_the_status() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    record = apply(record_of(start), dispatched(submitted()))
    assert record.status == Status.DISPATCHED
    assert [a.unit_id for a in record.assignments] == ["grid-heyuan"]
    assert record.version == 2
    assert [h.type for h in record.history] == ["TicketSubmitted", "TicketDispatched"]


def test_an_armed_clock_sets_the_deadline() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    dispatch = dispatched(submitted())
    deadline = dispatch.occurred_at + timedelta(hours=48)
    armed = SlaClockArmed.caused_by(
        dispatch,
        producer="sla",
        occurred_at=dispatch.occurred_at,
        clock=ClockKind.RESOLUTION,
        level=Level.COMMUNITY,
        limit_seconds=48 * 3600,
        deadline=deadline,
    )
    record = apply(apply(record_of(start), dispatch), armed)
    assert record.deadline == deadline
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
