"""How other services' events change the ticket record. Pure functions: record in,
record out; the store makes them atomic and idempotent."""

from chuishao.common.events import (
    Event,
    SlaClockArmed,
    TicketDispatched,
    TicketNeedsManualDispatch,
    TicketSubmitted,
    UnitNotified,
)
from chuishao.intake.records import Assignment, ClockView, HistoryEntry, Status, TicketRecord


def summary(event: Event) -> str:
    match event:
        case TicketSubmitted():
            return f"submitted via {event.channel}"
        case TicketDispatched():
            return f"dispatched to {event.unit_name} ({event.role}, {event.level})"
        case TicketNeedsManualDispatch():
            return f"needs manual dispatch: {event.reason}"
        case SlaClockArmed():
            return f"{event.clock} clock armed at {event.level}, due {event.deadline.isoformat()}"
        case UnitNotified():
            return f"{event.unit_id} notified via {event.channel}"
    return event.type


def history_entry(event: Event) -> HistoryEntry:
    return HistoryEntry(
        event_id=event.event_id,
        type=event.type,
        at=event.occurred_at,
        producer=event.producer,
        summary=summary(event),
    )


def apply(record: TicketRecord, event: Event) -> TicketRecord:
    record = record.model_copy(deep=True)
    match event:
        case TicketDispatched():
            record.assignments = [a for a in record.assignments if a.unit_id != event.unit_id] + [
                Assignment(
                    unit_id=event.unit_id,
                    unit_name=event.unit_name,
                    role=event.role,
                    level=event.level,
                    whistle=event.whistle,
                    dispatched_at=event.occurred_at,
                )
            ]
            if record.status in (Status.SUBMITTED, Status.MANUAL_DISPATCH):
                record.status = Status.DISPATCHED
        case TicketNeedsManualDispatch():
            if record.status == Status.SUBMITTED:
                record.status = Status.MANUAL_DISPATCH
        case SlaClockArmed():
            record.clocks = [
                c
                for c in record.clocks
                if not (c.clock == event.clock and c.unit_id == event.unit_id)
            ] + [
                ClockView(
                    clock=event.clock,
                    level=event.level,
                    unit_id=event.unit_id,
                    deadline=event.deadline,
                )
            ]
        case UnitNotified():
            for assignment in record.assignments:
                if assignment.unit_id == event.unit_id and assignment.notified_at is None:
                    assignment.notified_at = event.occurred_at
    record.history.append(history_entry(event))
    record.updated_at = max(record.updated_at, event.occurred_at)
    record.version += 1
    return record
