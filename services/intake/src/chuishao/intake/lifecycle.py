"""The ticket state machine, in one place.

`ALLOWED` says in which states each command may run; `decide` turns a command into the
events it causes (or refuses it); `projection.apply` is the only code that changes a
record, event by event. Every entry point (HTTP, Open311, NATS) goes through here.

    submitted ──dispatched──► dispatched ──all summoned units acknowledged──► in_progress
        │                        ▲   │                                        │    ▲
        └─no rule─► manual_dispatch  └─declined by every unit─► submitted      │    │
                                                                  await resident   resident replied
    in_progress ──every active unit signed off──► resolved          ▼          │
    resolved ──rated 满意/基本满意──► closed                      awaiting_resident
    resolved ──rated 不满意──► dispatched (back to the same units, reopen_count + 1)
    resolved ──feedback window elapsed──► closed;   any open state ──duplicate/withdrawn──► closed
    a report near an open ticket of its category ──► linked (follows it) ──split──► submitted
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from chuishao.common.commands import (
    AcknowledgeTicket,
    AddProgressNote,
    AwaitResident,
    CloseTicket,
    DecideExtension,
    DeclineTicket,
    RateTicket,
    RecategoriseTicket,
    RecordResidentReply,
    RequestExtension,
    ResolveTicket,
    SplitReport,
    TicketCommand,
    TransferTicket,
)
from chuishao.common.domain import Rating
from chuishao.common.events import (
    Event,
    ExtensionApproved,
    ExtensionDenied,
    ExtensionRequested,
    TicketAcknowledged,
    TicketAwaitingResident,
    TicketClosed,
    TicketDeclined,
    TicketProgressNoted,
    TicketRated,
    TicketRecategorised,
    TicketReopened,
    TicketResidentReplied,
    TicketResolved,
    TicketTransferred,
    UnitSignedOff,
)
from chuishao.common.ids import derived_id

if TYPE_CHECKING:
    from chuishao.intake.records import TicketRecord

PRODUCER = "intake"
E = TypeVar("E", bound=Event)


class Status(StrEnum):
    SUBMITTED = "submitted"  # 已受理, waiting for the router
    MANUAL_DISPATCH = "manual_dispatch"  # 待人工派单
    DISPATCHED = "dispatched"  # 已派单, waiting for units to report for duty
    IN_PROGRESS = "in_progress"  # 处置中
    AWAITING_RESIDENT = "awaiting_resident"  # 待居民配合, clocks paused
    RESOLVED = "resolved"  # 已办结, waiting for the rating
    CLOSED = "closed"  # 已结案
    LINKED = "linked"  # 已合并: a duplicate report following another ticket


OPEN = frozenset(Status) - {Status.CLOSED, Status.LINKED}
WORKING = frozenset({Status.DISPATCHED, Status.IN_PROGRESS, Status.AWAITING_RESIDENT})

ALLOWED: dict[type[TicketCommand], frozenset[Status]] = {
    AcknowledgeTicket: WORKING,
    DeclineTicket: frozenset({Status.DISPATCHED, Status.IN_PROGRESS}),
    AddProgressNote: WORKING,
    RequestExtension: WORKING,
    DecideExtension: WORKING,
    TransferTicket: frozenset({Status.DISPATCHED, Status.IN_PROGRESS}),
    AwaitResident: frozenset({Status.IN_PROGRESS}),
    RecordResidentReply: frozenset({Status.AWAITING_RESIDENT}),
    ResolveTicket: frozenset({Status.IN_PROGRESS}),
    RateTicket: frozenset({Status.RESOLVED}),
    CloseTicket: OPEN,
    RecategoriseTicket: OPEN,
    SplitReport: frozenset({Status.LINKED}),
}
# Who may send each command: units act on their own part; supervisors (street command
# centres, the district) decide; residents rate through the token in their SMS link and
# 12345 operators act for them.
UNIT_COMMANDS = (
    AcknowledgeTicket,
    DeclineTicket,
    AddProgressNote,
    RequestExtension,
    TransferTicket,
    AwaitResident,
    ResolveTicket,
)
SUPERVISOR_COMMANDS = (DecideExtension, CloseTicket, RecategoriseTicket)


# The verbs every entry point uses: /api/v1/tickets/{id}/<verb> and cmd.unit.<unit>.<verb>.
VERBS: dict[str, type[TicketCommand]] = {
    "acknowledge": AcknowledgeTicket,
    "decline": DeclineTicket,
    "notes": AddProgressNote,
    "extension-requests": RequestExtension,
    "extension-decisions": DecideExtension,
    "transfer": TransferTicket,
    "awaiting-resident": AwaitResident,
    "resident-replies": RecordResidentReply,
    "resolve": ResolveTicket,
    "rating": RateTicket,
    "close": CloseTicket,
    "recategorise": RecategoriseTicket,
    "split": SplitReport,
}


@dataclass(frozen=True)
class Actor:
    """Who sends a command, as established by authentication."""

    kind: str  # "unit" | "supervisor" | "operator" | "resident"
    id: str

    @property
    def is_supervisor(self) -> bool:
        return self.kind == "supervisor"


class CommandRejected(Exception):
    status_code = 400
    code = "rejected"


class IllegalTransition(CommandRejected):
    status_code = 409
    code = "illegal_transition"


class VersionConflict(CommandRejected):
    status_code = 409
    code = "version_conflict"


class NotYours(CommandRejected):
    status_code = 403
    code = "forbidden"


class UnknownTicket(CommandRejected):
    status_code = 404
    code = "not_found"


def authorize(record: "TicketRecord", command: TicketCommand, actor: Actor) -> None:
    if isinstance(command, UNIT_COMMANDS):
        allowed = actor.kind in ("unit", "supervisor") and record.assignment(actor.id) is not None
        why = f"ticket {record.ticket_id} is not assigned to {actor.id}"
    elif isinstance(command, RateTicket):
        allowed = actor.kind in ("resident", "operator")
        why = "only the resident (or a 12345 operator for them) rates a ticket"
    elif isinstance(command, RecordResidentReply):
        allowed = actor.kind in ("resident", "operator") or record.assignment(actor.id) is not None
        why = "only the resident, an operator or an assigned unit records the reply"
    else:
        allowed = actor.is_supervisor
        why = f"{type(command).__name__} needs a supervisor (street or district)"
    if not allowed:
        raise NotYours(why)


def check_state(record: "TicketRecord", command: TicketCommand) -> None:
    if command.expected_version is not None and command.expected_version != record.version:
        raise VersionConflict(
            f"ticket {record.ticket_id} is at version {record.version}, "
            f"not {command.expected_version}"
        )
    allowed = ALLOWED[type(command)]
    if record.status not in allowed:
        raise IllegalTransition(
            f"{type(command).__name__} is not allowed while the ticket is {record.status}"
        )


def decide(
    record: "TicketRecord",
    command: TicketCommand,
    actor: Actor,
    now: datetime,
    event_ids: "EventIds",
) -> list[Event]:
    """The events a command causes, or CommandRejected saying why not."""
    check_state(record, command)
    authorize(record, command, actor)

    def make(kind: type[E], **fields: Any) -> E:
        return kind.about(
            ticket_id=record.ticket_id,
            correlation_id=record.correlation_id,
            producer=PRODUCER,
            occurred_at=now,
            event_id=event_ids.next(),
            **fields,
        )

    part = record.assignment(actor.id)
    match command:
        case AcknowledgeTicket():
            assert part is not None
            if part.acknowledged_at is not None:
                raise IllegalTransition(f"{actor.id} has already reported for duty")
            return [make(TicketAcknowledged, unit_id=actor.id)]
        case DeclineTicket():
            assert part is not None
            if part.signed_off_at is not None:
                raise IllegalTransition(f"{actor.id} has already signed off")
            return [
                make(
                    TicketDeclined,
                    unit_id=actor.id,
                    reason_code=command.reason_code,
                    note=command.note,
                    bounces=record.declines + 1,
                )
            ]
        case AddProgressNote():
            return [make(TicketProgressNoted, unit_id=actor.id, note=command.note)]
        case RequestExtension():
            assert part is not None
            if part.extension_requested_seconds is not None:
                raise IllegalTransition(f"{actor.id} already has an extension request pending")
            return [
                make(
                    ExtensionRequested,
                    unit_id=actor.id,
                    extra_seconds=int(command.extra_hours * 3600),
                    reason=command.reason,
                )
            ]
        case DecideExtension():
            pending = record.assignment(command.unit_id)
            if pending is None or pending.extension_requested_seconds is None:
                raise IllegalTransition(f"{command.unit_id} has no extension request pending")
            if command.approve:
                return [
                    make(
                        ExtensionApproved,
                        unit_id=command.unit_id,
                        extra_seconds=pending.extension_requested_seconds,
                        approved_by=actor.id,
                    )
                ]
            return [
                make(
                    ExtensionDenied,
                    unit_id=command.unit_id,
                    denied_by=actor.id,
                    reason=command.reason,
                )
            ]
        case TransferTicket():
            if command.to_unit_id == actor.id or record.assignment(command.to_unit_id):
                raise IllegalTransition(f"{command.to_unit_id} already holds this ticket")
            return [
                make(
                    TicketTransferred,
                    from_unit_id=actor.id,
                    to_unit_id=command.to_unit_id,
                    reason=command.reason,
                )
            ]
        case AwaitResident():
            return [make(TicketAwaitingResident, unit_id=actor.id, note=command.note)]
        case RecordResidentReply():
            return [make(TicketResidentReplied, note=command.note)]
        case ResolveTicket():
            assert part is not None
            if part.signed_off_at is not None:
                raise IllegalTransition(f"{actor.id} has already signed off")
            evidence = tuple(str(url) for url in command.evidence_urls)
            events: list[Event] = [
                make(UnitSignedOff, unit_id=actor.id, note=command.note, evidence_urls=evidence)
            ]
            still_owed = [
                a for a in record.active_assignments if a.owes_sign_off and a.unit_id != actor.id
            ]
            if not still_owed:  # 事不完、人不撤: resolved only when every unit signed off
                events.append(
                    make(
                        TicketResolved,
                        units=tuple(a.unit_id for a in record.active_assignments),
                        note=command.note,
                        evidence_urls=evidence,
                        reporter_ref=record.reporter_ref,
                    )
                )
            return events
        case RateTicket():
            units = tuple(a.unit_id for a in record.active_assignments)
            rated = make(TicketRated, rating=command.rating, comment=command.comment, units=units)
            if command.rating == Rating.UNSATISFIED:
                return [
                    rated,
                    make(
                        TicketReopened,
                        complaint=command.comment,
                        units=units,
                        reopen_count=record.reopen_count + 1,
                    ),
                ]
            return [rated, make(TicketClosed, reason="rated")]
        case CloseTicket():
            if command.reason == "feedback_window_elapsed" and record.status != Status.RESOLVED:
                raise IllegalTransition("only a resolved ticket closes when its window elapses")
            return [make(TicketClosed, reason=command.reason)]
        case RecategoriseTicket():
            return [
                make(
                    TicketRecategorised,
                    category=command.category,
                    priority=command.priority,
                    changed_by=actor.id,
                )
            ]
    raise CommandRejected(f"unsupported command {type(command).__name__}")


class EventIds:
    """Ids for the events of one command: random, or derived from an idempotency key so
    a retried command re-emits the same ids (and JetStream drops the repeats)."""

    def __init__(self, idempotency_key: str | None, ticket_id: str) -> None:
        self.key = idempotency_key
        self.ticket_id = ticket_id
        self.count = 0

    def next(self) -> str | None:
        self.count += 1
        if self.key is None:
            return None
        return derived_id("command", self.ticket_id, self.key, str(self.count))
