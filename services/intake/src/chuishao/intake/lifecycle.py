"""The ticket state machine, in one place.

`ALLOWED` says in which states each command may run; `decide` turns a command into the
events it causes (or refuses it); `projection.apply` is the only code that changes a
record, event by event, and the status it gives follows `chuishao.common.status` (the
one reducer, which supervision folds too). Every entry point (HTTP, Open311, NATS) goes
through here.

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
from typing import Any, TypeVar

from chuishao.common.commands import (
    AcknowledgeTicket,
    AddProgressNote,
    AwaitResident,
    CloseTicket,
    DecideAppeal,
    DecideExtension,
    DeclineTicket,
    FileAppeal,
    RateTicket,
    RecategoriseTicket,
    RecordCallback,
    RecordResidentReply,
    RequestExtension,
    ResolveTicket,
    SplitReport,
    TicketCommand,
    TransferTicket,
    UrgeTicket,
)
from chuishao.common.domain import AppealOutcome, AppealSubject, Level, Rating
from chuishao.common.errors import ErrorDetail
from chuishao.common.events import (
    AppealDecided,
    AppealFiled,
    CallbackAttempted,
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
    TicketUrged,
    UnitSignedOff,
)
from chuishao.common.ids import derived_id

# The states are chuishao.common.status's (the one reducer), re-exported for intake's modules.
from chuishao.common.status import OPEN as OPEN  # noqa: PLC0414
from chuishao.common.status import WORKING as WORKING  # noqa: PLC0414
from chuishao.common.status import Status as Status  # noqa: PLC0414
from chuishao.intake.records import TicketRecord
from chuishao.intake.refusals import explain
from chuishao.intake.scopes import NOWHERE, CallerScope, can_see

PRODUCER = "intake"
E = TypeVar("E", bound=Event)

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
    RecordCallback: frozenset({Status.RESOLVED}),
    CloseTicket: OPEN,
    RecategoriseTicket: OPEN,
    SplitReport: frozenset({Status.LINKED}),
    UrgeTicket: WORKING,
    # An appeal is about what was counted, in any state (a rating closes the ticket).
    FileAppeal: frozenset(Status),
    DecideAppeal: frozenset(Status),
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
SUPERVISOR_COMMANDS = (DecideExtension, CloseTicket, RecategoriseTicket, UrgeTicket)


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
    "callbacks": RecordCallback,
    "close": CloseTicket,
    "recategorise": RecategoriseTicket,
    "split": SplitReport,
    "urge": UrgeTicket,
    "appeals": FileAppeal,
    "appeal-decisions": DecideAppeal,
}
# The supervisors' levels that decide appeals (申诉审核): a street's command centre only reads.
APPEAL_DECIDERS = frozenset({Level.DISTRICT, Level.CITY})


@dataclass(frozen=True)
class Actor:
    """Who sends a command, as established by authentication."""

    kind: str  # "unit" | "supervisor" | "operator" | "resident"
    id: str
    # A supervisor's place (its street, its district, the city); see scopes.can_see.
    scope: CallerScope = NOWHERE
    # The console account acting as this unit, supervisor or operator (a person token,
    # auth.ApiKeys.person): recorded on the events it causes, so the history names them.
    person: str | None = None
    # A supervisor's level (its directory entry): a district or the city decides appeals.
    level: Level | None = None

    @property
    def is_supervisor(self) -> bool:
        return self.kind == "supervisor"


class CommandRejected(Exception):
    """A refused command. `reason` names a row of refusals.REFUSALS, which says it in
    both languages without internal names; `params` fill the row in."""

    status_code = 400
    code = "rejected"

    def __init__(self, reason: str, *, field: str | None = None, **params: str) -> None:
        self.reason = reason
        self.field = field
        self.message_zh, self.message_en = explain(reason, self.code, params)
        super().__init__(self.message_en)

    def detail(self) -> ErrorDetail:
        return ErrorDetail(
            code=self.code,
            message_zh=self.message_zh,
            message_en=self.message_en,
            field=self.field,
        )


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


def authorize(record: TicketRecord, command: TicketCommand, actor: Actor) -> None:
    if isinstance(command, UNIT_COMMANDS):
        allowed = actor.kind in ("unit", "supervisor") and record.assignment(actor.id) is not None
        why = "not_assigned"
    elif isinstance(command, RateTicket):
        allowed = actor.kind in ("resident", "operator")
        why = "rating_by_resident"
    elif isinstance(command, RecordCallback):
        allowed = actor.kind == "operator"
        why = "callback_by_operator"
    elif isinstance(command, FileAppeal):
        allowed = actor.kind in ("unit", "supervisor") and record.ever_assigned(actor.id)
        why = "appeal_by_unit"
    elif isinstance(command, DecideAppeal):
        allowed = actor.is_supervisor and actor.level in APPEAL_DECIDERS
        why = "appeal_by_district"
    elif isinstance(command, RecordResidentReply):
        allowed = actor.kind in ("resident", "operator") or record.assignment(actor.id) is not None
        why = "reply_by_resident"
    else:
        allowed = actor.is_supervisor
        why = "needs_supervisor"
    if not allowed:
        raise NotYours(why, command=type(command).__name__)


def check_state(record: TicketRecord, command: TicketCommand) -> None:
    if command.expected_version is not None and command.expected_version != record.version:
        raise VersionConflict(
            "version_conflict",
            field="expected_version",
            version=str(record.version),
            expected=str(command.expected_version),
        )
    allowed = ALLOWED[type(command)]
    if record.status not in allowed:
        raise IllegalTransition(
            "not_in_state", command=type(command).__name__, state=str(record.status)
        )


def decide(
    record: TicketRecord,
    command: TicketCommand,
    actor: Actor,
    now: datetime,
    event_ids: "EventIds",
) -> list[Event]:
    """The events a command causes, or CommandRejected saying why not."""
    if not can_see(actor, record):
        # Outside the caller's scope: the same answer as a ticket that does not exist, so
        # it learns neither that the ticket exists nor where it stands.
        raise UnknownTicket("unknown_ticket", ticket_id=record.ticket_id)
    check_state(record, command)
    authorize(record, command, actor)

    def make(kind: type[E], **fields: Any) -> E:
        return kind.about(
            ticket_id=record.ticket_id,
            correlation_id=record.correlation_id,
            producer=PRODUCER,
            occurred_at=now,
            event_id=event_ids.next(),
            person=actor.person,
            **fields,
        )

    part = record.assignment(actor.id)
    match command:
        case AcknowledgeTicket():
            assert part is not None
            if part.acknowledged_at is not None:
                raise IllegalTransition("already_acknowledged")
            return [make(TicketAcknowledged, unit_id=actor.id)]
        case DeclineTicket():
            assert part is not None
            if part.signed_off_at is not None:
                raise IllegalTransition("already_signed_off")
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
            return [
                make(
                    TicketProgressNoted,
                    unit_id=actor.id,
                    note=command.note,
                    public=command.public,
                )
            ]
        case RequestExtension():
            assert part is not None
            if part.extension_requested_seconds is not None:
                raise IllegalTransition("extension_pending")
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
                raise IllegalTransition(
                    "no_extension_pending", field="unit_id", unit=command.unit_id
                )
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
        case UrgeTicket():
            urged = record.assignment(command.unit_id)
            if urged is None or urged.signed_off_at is not None:
                # Only a unit that still owes work can be urged (督办 a finished part
                # would only confuse it).
                raise IllegalTransition("not_urgeable", field="unit_id", unit=command.unit_id)
            return [
                make(TicketUrged, unit_id=command.unit_id, urged_by=actor.id, note=command.note)
            ]
        case TransferTicket():
            if command.to_unit_id == actor.id or record.assignment(command.to_unit_id):
                raise IllegalTransition(
                    "already_holds", field="to_unit_id", unit=command.to_unit_id
                )
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
                raise IllegalTransition("already_signed_off")
            evidence = tuple(str(url) for url in command.evidence_urls)
            events: list[Event] = [
                make(UnitSignedOff, unit_id=actor.id, note=command.note, evidence_urls=evidence)
            ]
            still_owed = [
                a for a in record.active_assignments if a.owes_sign_off and a.unit_id != actor.id
            ]
            if not still_owed:  # 事不完、人不撤: resolved only when every unit signed off
                note, all_evidence = _combined(record, part.unit_name, command.note, evidence)
                events.append(
                    make(
                        TicketResolved,
                        units=tuple(a.unit_id for a in record.active_assignments),
                        note=note,
                        evidence_urls=all_evidence,
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
        case RecordCallback():
            return [
                make(
                    CallbackAttempted,
                    outcome=command.outcome,
                    attempt=record.callback_attempts + 1,
                    note=command.note,
                )
            ]
        case CloseTicket():
            if command.reason == "feedback_window_elapsed" and record.status != Status.RESOLVED:
                raise IllegalTransition("window_close_needs_resolved", field="reason")
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
        case FileAppeal():
            appeal_id = _new_appeal_id(record, actor.id, command.subject)
            return [
                make(
                    AppealFiled,
                    appeal_id=appeal_id,
                    unit_id=actor.id,
                    subject=command.subject,
                    reason=command.reason,
                    evidence_urls=tuple(str(url) for url in command.evidence_urls),
                )
            ]
        case DecideAppeal():
            appeal = record.appeal(command.appeal_id)
            if appeal is None:
                raise UnknownTicket("no_such_appeal", field="appeal_id", appeal=command.appeal_id)
            if not appeal.pending:
                raise IllegalTransition(
                    "appeal_decided", field="appeal_id", appeal=appeal.appeal_id
                )
            if appeal.unit_id == actor.id:
                raise NotYours("own_appeal", field="appeal_id")
            return [
                make(
                    AppealDecided,
                    appeal_id=appeal.appeal_id,
                    unit_id=appeal.unit_id,
                    subject=appeal.subject,
                    outcome=command.outcome,
                    decided_by=actor.id,
                    note=command.note,
                )
            ]
    raise CommandRejected("unsupported")


def _new_appeal_id(record: TicketRecord, unit_id: str, subject: AppealSubject) -> str:
    """One open appeal per ticket × unit × subject, and none once one was upheld (the
    exemption stands); after a rejection the unit may appeal again, with new evidence."""
    part = record.ever_assignment(unit_id)
    assert part is not None  # authorize: it was sent the ticket
    counted = {
        AppealSubject.RATING: part.rated_unsatisfied,
        AppealSubject.BREACH: part.breached,
        AppealSubject.DECLINE: part.declined,
        AppealSubject.FORCE_MAJEURE: True,
    }[subject]
    if not counted:
        raise IllegalTransition(f"nothing_to_appeal_{subject}", field="subject")
    earlier = [a for a in record.appeals if a.unit_id == unit_id and a.subject == subject]
    if any(a.pending for a in earlier):
        raise IllegalTransition("appeal_pending", field="subject")
    if any(a.outcome == AppealOutcome.UPHELD for a in earlier):
        raise IllegalTransition("appeal_settled", field="subject")
    return f"{unit_id}:{subject}:{len(earlier) + 1}"


def _combined(
    record: TicketRecord, unit_name: str, note: str, evidence: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """The resolution the resident and Open311 read: with several units (a coordination
    whistle) every unit's note, named, and every unit's photos, not only the last one's."""
    earlier = [s for s in record.sign_offs if record.assignment(s.unit_id) is not None]
    if not earlier:
        return note, evidence
    parts = [f"{s.unit_name}：{s.note}" for s in earlier] + [f"{unit_name}：{note}"]
    text = "；".join(parts)
    if len(text) > 4000:  # the event's limit; each unit's own note stays whole on the record
        text = text[:3999] + "…"
    photos = tuple(dict.fromkeys(url for s in earlier for url in s.evidence_urls))
    return text, tuple(dict.fromkeys((*photos, *evidence)))


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
