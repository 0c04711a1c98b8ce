"""Ticket events as the points ledger reads them, at chosen times, for its tests."""

from datetime import UTC, datetime, timedelta

from chuishao.common.clock import ManualClock
from chuishao.common.events import (
    Event,
    ReportLinked,
    ReportSplit,
    TicketClosed,
    TicketResolved,
    TicketSubmitted,
)
from support.factories import dispatched
from support.factories import submitted as report

# 09:00 in Shanghai on 5 January 2026.
MORNING = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
RESIDENT = "r_" + "a1" * 10
NEIGHBOUR = "r_" + "b2" * 10


def submitted(
    ticket_id: str, reporter_ref: str | None = RESIDENT, at: datetime = MORNING
) -> TicketSubmitted:
    return report(
        ManualClock(at), ticket_id, event_id=f"sub-{ticket_id}", reporter_ref=reporter_ref
    )


def accepted(cause: TicketSubmitted, at: datetime | None = None, unit: str = "grid") -> Event:
    event = dispatched(cause, unit_id=unit)
    return event.model_copy(update={"occurred_at": at or cause.occurred_at + timedelta(minutes=1)})


def resolved(cause: TicketSubmitted, at: datetime | None = None) -> TicketResolved:
    return TicketResolved.caused_by(
        cause,
        producer="intake",
        occurred_at=at or cause.occurred_at + timedelta(hours=3),
        units=("grid",),
        note="已修复",
        reporter_ref=cause.reporter_ref,
    )


def closed(cause: TicketSubmitted, reason: str, at: datetime | None = None) -> TicketClosed:
    return TicketClosed.caused_by(
        cause,
        producer="intake",
        occurred_at=at or cause.occurred_at + timedelta(hours=5),
        discriminator=reason,
        reason=reason,
    )


def linked(
    report: TicketSubmitted, lead_ticket_id: str, at: datetime | None = None
) -> ReportLinked:
    return ReportLinked.caused_by(
        report,
        producer="intake",
        occurred_at=at or report.occurred_at + timedelta(hours=4),
        duplicate_ticket_id=report.ticket_id,
        distance_m=12.0,
        reporter_ref=report.reporter_ref,
    ).model_copy(update={"ticket_id": lead_ticket_id})


def split(report: TicketSubmitted, lead_ticket_id: str, at: datetime | None = None) -> ReportSplit:
    return ReportSplit.caused_by(
        report,
        producer="intake",
        occurred_at=at or report.occurred_at + timedelta(hours=6),
        report_ticket_id=report.ticket_id,
        split_by="qingshi-command",
    ).model_copy(update={"ticket_id": lead_ticket_id})
