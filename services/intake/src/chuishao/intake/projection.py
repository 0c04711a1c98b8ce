"""How each event changes the ticket record: the only code that does. Pure functions,
record in and record out; the store makes them atomic and exactly-once. The status and
who is summoned follow the one reducer, `chuishao.common.status` (supervision folds the
same); the rest of the record (names, times, notes) is kept here."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chuishao.common.commands import Reporter
from chuishao.common.domain import ClockKind, Priority, Rating
from chuishao.common.events import (
    AppealDecided,
    AppealFiled,
    CallbackAttempted,
    Event,
    ExtensionApproved,
    ExtensionDenied,
    ExtensionRequested,
    ReportLinked,
    ReportSplit,
    SlaBreached,
    SlaClockArmed,
    TicketAcknowledged,
    TicketAwaitingResident,
    TicketClosed,
    TicketDeclined,
    TicketDispatched,
    TicketEscalated,
    TicketNeedsManualDispatch,
    TicketProgressNoted,
    TicketRated,
    TicketRecategorised,
    TicketReopened,
    TicketResidentReplied,
    TicketResolved,
    TicketSubmitted,
    TicketTransferred,
    TicketTriaged,
    TicketUrged,
    UnitNotified,
    UnitSignedOff,
)
from chuishao.common.status import Part, Progress, Status, reduce
from chuishao.intake.records import (
    Appeal,
    Assignment,
    ClockView,
    HistoryEntry,
    LinkedReport,
    Resolution,
    SignOff,
    TicketRecord,
)

URGENCY = list(Priority)

SUMMARIES: dict[type[Event], Callable[[Any], str]] = {
    TicketSubmitted: lambda e: f"submitted via {e.channel}",
    TicketDispatched: lambda e: f"dispatched to {e.unit_name} ({e.role}, {e.level})",
    TicketNeedsManualDispatch: lambda e: f"needs manual dispatch: {e.reason}",
    SlaClockArmed: lambda e: f"{e.clock} clock at {e.level}, due {e.deadline.isoformat()}",
    UnitNotified: lambda e: f"{e.unit_id} notified via {e.channel}",
    TicketAcknowledged: lambda e: f"{e.unit_id} reported for duty",
    TicketDeclined: lambda e: f"{e.unit_id} returned it: {e.reason_code} {e.note}".strip(),
    TicketProgressNoted: lambda e: f"{e.unit_id}: {e.note}",
    ExtensionRequested: lambda e: f"{e.unit_id} asked for {e.extra_seconds // 3600} h more",
    ExtensionApproved: lambda e: f"extension for {e.unit_id} approved by {e.approved_by}",
    ExtensionDenied: lambda e: f"extension for {e.unit_id} denied by {e.denied_by}",
    TicketTransferred: lambda e: f"{e.from_unit_id} transferred it to {e.to_unit_id}",
    TicketUrged: lambda e: (
        f"督办 {e.unit_id} (by {e.urged_by})" + (f": {e.note}" if e.note else "")
    ),
    TicketAwaitingResident: lambda e: f"{e.unit_id} waits on the resident: {e.note}",
    TicketResidentReplied: lambda e: "the resident replied",
    TicketRecategorised: lambda e: f"now {e.category} / {e.priority} (by {e.changed_by})",
    UnitSignedOff: lambda e: f"{e.unit_id} signed off: {e.note}",
    TicketResolved: lambda e: "resolved",
    # The resident's own words travel with the rating and the reopen: the unit that gets
    # the ticket back reads the complaint in the history, not only in the NATS dispatch.
    CallbackAttempted: lambda e: f"callback {e.attempt}: {e.outcome}",
    TicketRated: lambda e: f"rated {e.rating}: {e.comment}" if e.comment else f"rated {e.rating}",
    TicketReopened: lambda e: (
        f"reopened ({e.reopen_count}): {e.complaint}"
        if e.complaint
        else f"reopened ({e.reopen_count})"
    ),
    TicketClosed: lambda e: f"closed ({e.reason})",
    # Neither the unit nor its reason: another unit on the ticket reads the history too.
    AppealFiled: lambda e: f"申诉 appeal filed ({e.subject})",
    AppealDecided: lambda e: f"申诉 appeal {e.outcome} by {e.decided_by}",
    TicketEscalated: lambda e: (
        f"escalated {e.from_level} → {e.to_level}"
        + (" (its own command centre summoned)" if e.from_level == e.to_level else "")
    ),
    ReportLinked: lambda e: f"report {e.duplicate_ticket_id} linked ({e.distance_m:.0f} m away)",
    ReportSplit: lambda e: f"report {e.report_ticket_id} split out by {e.split_by}",
    TicketTriaged: lambda e: (
        f"triage suggests {e.category} ({e.confidence:.0%})"
        + (f"; danger: {', '.join(e.danger_kinds)}" if e.danger else "")
        + (f"; 请立即拨打{'、'.join(e.call)}" if e.call else "")
    ),
}


def created(
    event: TicketSubmitted,
    *,
    reporter: Reporter | None = None,
    linked_to: str | None = None,
    submitted_at: datetime | None = None,
) -> TicketRecord:
    """A ticket's record as its TicketSubmitted starts it: the one place a record is made,
    at submit and when rebuilt from the stream. `reporter` is what no event carries (None
    when rebuilt from the public event alone); a report `linked_to` another ticket starts
    LINKED; one answered on the call (直接答复) starts, and stays, CLOSED. `submitted_at`
    defaults to the event's time."""
    at = submitted_at or event.occurred_at
    status = Status.SUBMITTED if linked_to is None else Status.LINKED
    return TicketRecord(
        ticket_id=event.ticket_id,
        correlation_id=event.correlation_id,
        status=Status.CLOSED if event.answered is not None else status,
        answered=event.answered,
        linked_to=linked_to,
        category=event.category,
        description=event.description,
        priority=event.priority,
        channel=event.channel,
        location=event.location,
        media_urls=event.media_urls,
        reporter=reporter,
        reporter_ref=event.reporter_ref,
        submitted_at=at,
        updated_at=at,
        history=[history_entry(event)],
    )


# The events that place a ticket (its street, the centre it waits for): a linked report
# takes them from its lead, so it is scoped like the lead (chuishao.intake.scopes).
PLACING: tuple[type[Event], ...] = (TicketDispatched, TicketNeedsManualDispatch, ReportLinked)


def placed_like(report: TicketRecord, lead: TicketRecord) -> TicketRecord:
    """A linked report placed where its lead is; the same record when nothing changes."""
    if report.linked_to != lead.ticket_id or (report.street, report.arbiter) == (
        lead.street,
        lead.arbiter,
    ):
        return report
    return report.model_copy(update={"street": lead.street, "arbiter": lead.arbiter})


def history_entry(event: Event) -> HistoryEntry:
    summarise = SUMMARIES.get(type(event))
    return HistoryEntry(
        event_id=event.event_id,
        type=event.type,
        at=event.occurred_at,
        producer=event.producer,
        summary=summarise(event) if summarise else event.type,
        public_note=event.note if isinstance(event, TicketProgressNoted) and event.public else None,
        person=event.person,
    )


def progress_of(record: TicketRecord) -> Progress:
    """The record as the status reducer sees it."""
    return Progress(
        ticket_id=record.ticket_id,
        status=record.status,
        parts={
            a.unit_id: Part(active=a.active, acknowledged=a.acknowledged_at is not None)
            for a in record.assignments
        },
    )


def _follow(record: TicketRecord, progress: Progress, at: datetime) -> None:
    """Status, and each unit's part (summoned, reported for duty), as the reducer says."""
    record.status = progress.status
    for a in record.assignments:
        part = progress.parts.get(a.unit_id)
        if part is None:
            continue
        a.active = part.active
        a.acknowledged_at = (a.acknowledged_at or at) if part.acknowledged else None


def _apply(record: TicketRecord, event: Event) -> None:
    match event:
        case TicketDispatched() if record.status in (Status.RESOLVED, Status.CLOSED):
            # Decided before the resolution, landed after it (an escalation racing the
            # last sign-off): the work is done, so nobody is summoned. It stays in the
            # history; sla arms no clock for it either.
            pass
        case TicketDispatched():
            earlier = record.ever_assignment(event.unit_id)
            if earlier is not None and earlier.active:
                # Summoned while its part is active (the answer to a reopening): the part
                # stands as the status reducer keeps it — its report for duty, a sign-off
                # made before this landed — and takes what this dispatch says of it.
                earlier.unit_name, earlier.role = event.unit_name, event.role
                earlier.level, earlier.whistle = event.level, event.whistle
            else:
                record.assignments = [a for a in record.assignments if a.unit_id != event.unit_id]
                record.assignments.append(
                    Assignment(
                        unit_id=event.unit_id,
                        unit_name=event.unit_name,
                        role=event.role,
                        level=event.level,
                        whistle=event.whistle,
                        dispatched_at=event.occurred_at,
                        # What it may still appeal stays with a unit summoned again.
                        declined=earlier is not None and earlier.declined,
                        breached=earlier is not None and earlier.breached,
                        rated_unsatisfied=earlier is not None and earlier.rated_unsatisfied,
                    )
                )
            record.street = event.street or record.street
            # A ticket without a category (triage unsure) gets the one its dispatch was
            # made with: a command centre's hand assignment names it (manual.py).
            record.category = record.category or event.category
            # The router may find the ticket more urgent than it was filed (triage placing
            # a gas leak in emergency_hazard): the record says so, never less urgent.
            if URGENCY.index(event.priority) > URGENCY.index(record.priority):
                record.priority = event.priority
        case TicketNeedsManualDispatch():
            # Its street's command centre must see it (and may recategorise it) before any
            # dispatch has placed it.
            record.street = event.street or record.street
            record.arbiter = event.arbiter_id or record.arbiter
        case SlaClockArmed():
            record.clocks = [
                c
                for c in record.clocks
                if not (c.clock == event.clock and c.unit_id == event.unit_id)
            ]
            record.clocks.append(
                ClockView(
                    clock=event.clock,
                    level=event.level,
                    unit_id=event.unit_id,
                    deadline=event.deadline,
                )
            )
        case SlaBreached():
            missed = ClockView(
                clock=event.clock, level=event.level, unit_id=event.unit_id, deadline=event.deadline
            )
            if missed not in record.breached:
                record.breached.append(missed)
            # The unit whose clock it was; a ticket's clock, every unit on it then.
            for a in record.active_assignments:
                if event.unit_id in (None, a.unit_id):
                    a.breached = True
        case UnitNotified():
            for a in record.assignments:
                if a.unit_id == event.unit_id and a.notified_at is None:
                    a.notified_at = event.occurred_at
        case TicketAcknowledged():
            if (part := record.assignment(event.unit_id)) is not None:
                part.acknowledged_at = event.occurred_at
        case TicketDeclined():
            record.declines = event.bounces
            if (part := record.ever_assignment(event.unit_id)) is not None:
                part.declined = True
        case ExtensionRequested():
            if (part := record.assignment(event.unit_id)) is not None:
                part.extension_requested_seconds = event.extra_seconds
        case ExtensionApproved() | ExtensionDenied():
            if (part := record.assignment(event.unit_id)) is not None:
                part.extension_requested_seconds = None
        case TicketRecategorised():
            record.category, record.priority = event.category, event.priority
        case UnitSignedOff():
            if (part := record.assignment(event.unit_id)) is not None:
                part.signed_off_at = event.occurred_at
            record.sign_offs = [s for s in record.sign_offs if s.unit_id != event.unit_id]
            record.sign_offs.append(
                SignOff(
                    unit_id=event.unit_id,
                    unit_name=part.unit_name if part is not None else event.unit_id,
                    note=event.note,
                    evidence_urls=event.evidence_urls,
                    signed_off_at=event.occurred_at,
                    event_id=event.event_id,
                )
            )
        case TicketResolved():
            record.resolution = Resolution(
                note=event.note,
                evidence_urls=event.evidence_urls,
                resolved_at=event.occurred_at,
                sign_offs=list(record.sign_offs),
            )
        case TicketRated():
            record.rating = event.rating
            if event.rating == Rating.UNSATISFIED:
                for a in record.assignments:
                    if a.unit_id in event.units:
                        a.rated_unsatisfied = True
        case AppealFiled():
            record.appeals.append(
                Appeal(
                    appeal_id=event.appeal_id,
                    unit_id=event.unit_id,
                    subject=event.subject,
                    reason=event.reason,
                    evidence_urls=event.evidence_urls,
                    filed_at=event.occurred_at,
                    filed_by=event.person,
                )
            )
        case AppealDecided():
            if (appeal := record.appeal(event.appeal_id)) is not None and appeal.pending:
                appeal.outcome = event.outcome
                appeal.decided_at = event.occurred_at
                appeal.decided_by = event.decided_by
                appeal.decided_by_person = event.person
                appeal.note = event.note
        case CallbackAttempted():
            record.callback_attempts = event.attempt
        case TicketReopened():
            record.reopen_count = event.reopen_count
            record.resolution = None
            record.breached = []  # a new cycle, new deadlines
            # ...and none of the old cycle's clocks: its resolution clock was never stopped
            # (a resolved ticket shows no deadline), so until sla arms the new one the
            # resident's page said "已超时 25 小时" right after their 不满意.
            record.clocks = []
            record.callback_attempts = 0
            record.sign_offs = []
            for a in record.active_assignments:
                a.signed_off_at = None
        case TicketEscalated():
            pass  # the summoned supervisors arrive as TicketDispatched with role supervisor
        case TicketTriaged():
            record.suggested_category = event.category
            if event.danger:  # a danger now is an emergency whatever the category
                record.priority = Priority.EMERGENCY
            if event.call:
                record.call_now, record.call_message_zh = event.call, event.call_message_zh
            if event.accepted and record.category is None:
                record.category = event.category
        case ReportLinked():
            if event.duplicate_ticket_id not in record.linked_reports:
                record.linked_reports.append(event.duplicate_ticket_id)
                # Its photos join this ticket's, so the units working on it see them.
                record.linked_details.append(
                    LinkedReport(
                        ticket_id=event.duplicate_ticket_id,
                        description=event.description,
                        media_urls=event.media_urls,
                    )
                )
                record.media_urls = tuple(dict.fromkeys((*record.media_urls, *event.media_urls)))
        case ReportSplit():
            if record.ticket_id == event.report_ticket_id:  # the report itself
                record.linked_to = None
            else:  # the ticket it had been linked to
                record.linked_reports = [
                    r for r in record.linked_reports if r != event.report_ticket_id
                ]
                gone = next(
                    (d for d in record.linked_details if d.ticket_id == event.report_ticket_id),
                    None,
                )
                if gone is not None:
                    record.linked_details.remove(gone)
                    kept = {url for d in record.linked_details for url in d.media_urls}
                    dropped = set(gone.media_urls) - kept
                    record.media_urls = tuple(u for u in record.media_urls if u not in dropped)


# Clocks sla stops on these events (sla replay: a unit reported, declined or handed its
# part on; someone responded; the ticket was dispatched): the record's clocks are the ones
# still running, so "every clock with its deadline", the overdue filter and the queue's
# next deadline never show a report-in deadline of a unit that has long reported.
_ANY = object()


def _stops(event: Event) -> list[tuple[ClockKind, object]]:
    match event:
        case TicketAcknowledged() | TicketDeclined():
            return [(ClockKind.REPORT_FOR_DUTY, event.unit_id)]
        case TicketTransferred():
            return [(ClockKind.REPORT_FOR_DUTY, event.from_unit_id)]
        case TicketProgressNoted() | UnitSignedOff() | TicketAwaitingResident():
            return [(ClockKind.FIRST_RESPONSE, _ANY)]
        case TicketDispatched():
            return [(ClockKind.MANUAL_DISPATCH, _ANY)]
    return []


def _stop_clocks(record: TicketRecord, event: Event) -> None:
    # What answers a clock also answers its breach: a unit that reported late is no
    # longer owed; a missed resolution stays until the ticket is resolved or reopened.
    for kind, unit in _stops(event):
        record.clocks = [
            c for c in record.clocks if not (c.clock == kind and unit in (_ANY, c.unit_id))
        ]
        record.breached = [
            c for c in record.breached if not (c.clock == kind and unit in (_ANY, c.unit_id))
        ]


def apply(record: TicketRecord, event: Event) -> TicketRecord:
    """The record after the event; the record in is never touched."""
    # An independent copy to change: through JSON in pydantic's core, a third of the CPU
    # of `model_copy(deep=True)`, which was 45 % of a rebuild's fold (docs/benchmarks.md,
    # "A whole city").
    return fold_into(TicketRecord.model_validate_json(record.model_dump_json()), event)


def fold_into(record: TicketRecord, event: Event) -> TicketRecord:
    """The event folded into this record, changed in place: for a caller whose record is
    a copy of its own already (the rebuild unpacks one per event)."""
    progress = reduce(progress_of(record), event)
    _apply(record, event)
    _stop_clocks(record, event)
    _follow(record, progress, event.occurred_at)
    record.history.append(history_entry(event))
    record.updated_at = max(record.updated_at, event.occurred_at)
    record.version += 1
    return record
