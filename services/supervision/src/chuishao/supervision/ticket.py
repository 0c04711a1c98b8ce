"""What supervision remembers about one ticket, and how each event changes it.

`apply` is a pure function, state in and state out; the store makes it atomic and
exactly-once. Everything the counters need is here, including what only the order of
events can tell (was the clock already breached when the unit answered?), so a replay of
the stream rebuilds exactly the same state. The status and who is summoned follow the one
reducer, `chuishao.common.status`, which intake's record folds too: the two agree.
"""

from datetime import datetime, tzinfo
from pathlib import Path
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

from chuishao.common.domain import Channel, ClockKind, Level, Priority, Rating, Role, Whistle
from chuishao.common.events import (
    AppealDecided,
    AppealFiled,
    Event,
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
    TicketResolved,
    TicketSubmitted,
    TicketTransferred,
    TicketTriaged,
    UnitSignedOff,
    WhistleBlown,
)
from chuishao.common.handled import remember
from chuishao.common.packing import PackedValue, Packing, registered
from chuishao.common.status import Part, Progress, Status, reduce

# Frozen: facts are packed with it (a new dictionary is a new version beside it,
# scripts/packing_dictionaries.py).
PACKING = registered(
    Packing(
        "supervision facts",
        Path(__file__).parent / "data" / "packing",
        {1: "aff6c83ccf3a5131e644f3773d693f03825de550c2d8bb5fb2daac649dca9de9"},
    )
)


class UnitPart(BaseModel):
    """One summoned unit's part in the ticket."""

    model_config = ConfigDict(extra="ignore")

    role: Role
    level: Level
    active: bool = True
    # First summoned: its handling time (办理时长) runs from here to its sign-off; a
    # ticket it returned and got back keeps this start (a wrong 退单 stops no clock).
    dispatched_at: AwareDatetime | None = None
    report_deadline: AwareDatetime | None = None
    report_breached: bool = False  # its report-for-duty clock ran out before it answered
    responded_at: AwareDatetime | None = None  # first acknowledgement or decline
    responded_late: bool = False
    acknowledged_cycle: int | None = None  # the cycle it last reported for duty in
    declines: int = 0
    # The resolution clock ran out while this unit was on the ticket (in this cycle): a
    # supervisor summoned by that very breach is measured on its own, later deadline.
    resolution_breached: bool = False
    signed_off_at: AwareDatetime | None = None
    signed_off_late: bool = False

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_cycle is not None


class RatingGiven(BaseModel):
    model_config = ConfigDict(frozen=True)

    rating: Rating
    units: tuple[str, ...]


class AppealFact(BaseModel):
    """A unit's appeal (申诉) and what an upheld one exempts (chuishao.supervision.exemptions):
    fixed when it was filed, so a replay of the stream gives the same exemption."""

    unit_id: str
    subject: str  # chuishao.common.domain.AppealSubject
    outcome: str | None = None  # None: pending; "upheld" | "rejected"
    cycle: int = 0  # the ticket's cycle when filed: a breach exemption covers up to it
    unsatisfied: int = 0  # the unsatisfied ratings naming the unit when filed


class SupervisedTicket(BaseModel, PackedValue):
    packing: ClassVar[Packing] = PACKING
    model_config = ConfigDict(extra="ignore")

    ticket_id: str
    day: str  # the calendar day it came in: the period every counter of it belongs to
    received_at: AwareDatetime | None = None
    category: str | None = None
    priority: Priority | None = None
    street: str | None = None
    grid: str | None = None
    level: Level | None = None
    status: Status = Status.SUBMITTED
    dispatched: bool = False
    manual: bool = False
    units: dict[str, UnitPart] = {}
    whistles: list[Whistle] = []
    bounces: int = 0
    escalations: list[Level] = []
    cycle: int = 0  # 0, then the reopen count
    resolution_deadline: AwareDatetime | None = None  # latest armed in this cycle
    resolution_breached: bool = False  # in this cycle
    resolved_at: AwareDatetime | None = None
    resolved_late: bool = False
    ratings: list[RatingGiven] = []
    closed: bool = False
    # Closed because its rating window passed with no rating (TicketClosed reason
    # feedback_window_elapsed): the callback (回访) got no rating. Never satisfied.
    closed_unrated: bool = False
    # 直接答复: answered on the call from the knowledge base, closed at once, never sent.
    answered_directly: bool = False
    # 未诉先办: opened by a command centre (channel proactive); counted apart, in no rate.
    proactive: bool = False
    # The reporter's pseudonym (never a name or number) and those of the reports linked
    # to it (duplicate id → pseudonym): 每月一题 counts who reported a problem again.
    reporter_ref: str | None = None
    linked_reporters: dict[str, str] = {}
    dispatched_at: AwareDatetime | None = None  # first dispatch: its handling time starts
    open_breaches: dict[str, AwareDatetime] = {}  # clock|level|unit → deadline
    appeals: dict[str, AppealFact] = {}  # appeal id → the appeal (申诉)
    linked_reports: list[str] = []
    hotspot_key: str | None = None  # grid|category, once counted for hotspots
    # Who is summoned, as the status reducer keeps it (None in facts stored before it was:
    # then read from `units`).
    summoned: dict[str, Part] | None = None
    # The last events applied (chuishao.common.handled): a redelivery changes nothing.
    applied: tuple[str, ...] = ()

    @property
    def active_units(self) -> dict[str, UnitPart]:
        return {unit_id: part for unit_id, part in self.units.items() if part.active}

    @property
    def overdue_since(self) -> datetime | None:
        if self.closed or self.status == Status.RESOLVED or not self.open_breaches:
            return None
        return min(self.open_breaches.values())


def day_of(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def _late(at: datetime, deadline: datetime | None, breached: bool) -> bool:
    """Late: the clock had already run out (in stream order) or the deadline had passed
    (which also catches the moment between a deadline and sla noticing it)."""
    return breached or (deadline is not None and at > deadline)


def _breach_key(clock: ClockKind, level: Level, unit_id: str | None) -> str:
    return f"{clock}|{level}|{unit_id or '-'}"


def _clear_breaches(facts: SupervisedTicket, clock: ClockKind, unit_id: str | None = None) -> None:
    facts.open_breaches = {
        key: deadline
        for key, deadline in facts.open_breaches.items()
        if not (key.startswith(f"{clock}|") and (unit_id is None or key.endswith(f"|{unit_id}")))
    }


def progress_of(facts: SupervisedTicket) -> Progress:
    """The facts as the status reducer sees them."""
    summoned = facts.summoned
    if summoned is None:
        summoned = {
            unit_id: Part(active=part.active, acknowledged=part.acknowledged_cycle == facts.cycle)
            for unit_id, part in facts.units.items()
        }
    return Progress(ticket_id=facts.ticket_id, status=facts.status, parts=summoned)


def _part(facts: SupervisedTicket, unit_id: str) -> UnitPart:
    part = facts.units.get(unit_id)
    if part is None:  # an answer without a dispatch (a stream cut by max_age): keep it
        part = UnitPart(role=Role.CO, level=facts.level or Level.COMMUNITY)
        facts.units[unit_id] = part
    return part


def _respond(facts: SupervisedTicket, unit_id: str, at: datetime) -> UnitPart:
    part = _part(facts, unit_id)
    if part.responded_at is None:
        part.responded_at = at
        part.responded_late = _late(at, part.report_deadline, part.report_breached)
    _clear_breaches(facts, ClockKind.REPORT_FOR_DUTY, unit_id)
    return part


def _sign_off(facts: SupervisedTicket, part: UnitPart, at: datetime) -> None:
    if part.signed_off_at is None:
        part.signed_off_at = at
        part.signed_off_late = _late(at, facts.resolution_deadline, part.resolution_breached)


def _apply(facts: SupervisedTicket, event: Event) -> None:
    at = event.occurred_at
    match event:
        case TicketSubmitted():
            facts.received_at = at
            if event.answered is not None:
                facts.answered_directly = facts.closed = True
            facts.category = facts.category or event.category
            facts.priority = event.priority
            facts.grid = facts.grid or event.location.grid_code
            facts.proactive = event.channel == Channel.PROACTIVE
            facts.reporter_ref = event.reporter_ref
        case TicketTriaged():
            if event.accepted and facts.category is None:
                facts.category = event.category
        case TicketNeedsManualDispatch():
            facts.manual = True
        case TicketDispatched():
            facts.dispatched = True
            facts.category = facts.category or event.category
            facts.priority = facts.priority or event.priority
            facts.street = event.street or facts.street
            facts.grid = facts.grid or event.grid_code
            facts.level = facts.level or event.level
            facts.dispatched_at = facts.dispatched_at or at
            part = facts.units.get(event.unit_id)
            if part is None:
                facts.units[event.unit_id] = UnitPart(
                    role=event.role, level=event.level, dispatched_at=at
                )
            else:
                part.active = True
                part.dispatched_at = part.dispatched_at or at
            if event.whistle != Whistle.NONE and event.whistle not in facts.whistles:
                facts.whistles = sorted([*facts.whistles, event.whistle])
        case WhistleBlown():
            if event.whistle != Whistle.NONE and event.whistle not in facts.whistles:
                facts.whistles = sorted([*facts.whistles, event.whistle])
        case SlaClockArmed():
            if event.clock == ClockKind.REPORT_FOR_DUTY and event.unit_id in facts.units:
                facts.units[event.unit_id].report_deadline = event.deadline
            elif event.clock == ClockKind.RESOLUTION and facts.resolved_at is None:
                facts.resolution_deadline = event.deadline
        case SlaBreached():
            if facts.closed or facts.status == Status.RESOLVED:
                return
            facts.open_breaches[_breach_key(event.clock, event.level, event.unit_id)] = (
                event.deadline
            )
            if event.clock == ClockKind.REPORT_FOR_DUTY and event.unit_id in facts.units:
                facts.units[event.unit_id].report_breached = True
            elif event.clock == ClockKind.RESOLUTION:
                facts.resolution_breached = True
                for part in facts.active_units.values():
                    part.resolution_breached = True
        case TicketEscalated():
            facts.escalations = [*facts.escalations, event.to_level]
            facts.level = event.to_level
        case TicketAcknowledged():
            part = _respond(facts, event.unit_id, at)
            part.acknowledged_cycle = facts.cycle
            _clear_breaches(facts, ClockKind.FIRST_RESPONSE)
        case TicketDeclined():
            part = _respond(facts, event.unit_id, at)
            part.declines += 1
            part.active = False
            facts.bounces += 1
        case TicketTransferred():
            _part(facts, event.from_unit_id).active = False
            _clear_breaches(facts, ClockKind.REPORT_FOR_DUTY, event.from_unit_id)
        case TicketProgressNoted():
            _clear_breaches(facts, ClockKind.FIRST_RESPONSE)
        case TicketAwaitingResident():
            _clear_breaches(facts, ClockKind.FIRST_RESPONSE)
        case TicketRecategorised():
            facts.category, facts.priority = event.category, event.priority
        case UnitSignedOff():
            _sign_off(facts, _part(facts, event.unit_id), at)
        case TicketResolved():
            for unit_id in event.units:
                _sign_off(facts, _part(facts, unit_id), at)
            facts.resolved_at = at
            facts.resolved_late = _late(at, facts.resolution_deadline, facts.resolution_breached)
            facts.open_breaches = {}
        case TicketRated():
            facts.ratings = [*facts.ratings, RatingGiven(rating=event.rating, units=event.units)]
        case TicketReopened():
            facts.cycle = max(facts.cycle + 1, event.reopen_count)
            facts.resolved_at, facts.resolved_late = None, False
            facts.resolution_deadline, facts.resolution_breached = None, False
            for part in facts.units.values():
                part.signed_off_at, part.signed_off_late = None, False
                part.resolution_breached = False
        case TicketClosed():
            facts.closed = True
            facts.closed_unrated = event.reason == "feedback_window_elapsed"
            facts.open_breaches = {}
        case ReportLinked():
            if event.duplicate_ticket_id not in facts.linked_reports:
                facts.linked_reports = [*facts.linked_reports, event.duplicate_ticket_id]
            if event.reporter_ref:
                facts.linked_reporters = {
                    **facts.linked_reporters,
                    event.duplicate_ticket_id: event.reporter_ref,
                }
        case AppealFiled():
            unsatisfied = sum(
                r.rating == Rating.UNSATISFIED and event.unit_id in r.units for r in facts.ratings
            )
            facts.appeals = {
                **facts.appeals,
                event.appeal_id: AppealFact(
                    unit_id=event.unit_id,
                    subject=event.subject,
                    cycle=facts.cycle,
                    unsatisfied=unsatisfied,
                ),
            }
        case AppealDecided():
            appeal = facts.appeals.get(event.appeal_id)
            if appeal is not None and appeal.outcome is None:
                appeal.outcome = event.outcome
        case ReportSplit():
            facts.linked_reports = [r for r in facts.linked_reports if r != event.report_ticket_id]
            facts.linked_reporters = {
                r: ref for r, ref in facts.linked_reporters.items() if r != event.report_ticket_id
            }


def apply(
    facts: SupervisedTicket | None, event: Event, zone: tzinfo, *, in_place: bool = False
) -> SupervisedTicket:
    """The facts after `event`; the caller has checked it was not applied before. The facts
    given are left as they were unless `in_place` (the rebuild's fold owns its facts, and
    the deep copy was a fifth of its time)."""
    if facts is None:
        facts = SupervisedTicket(ticket_id=event.ticket_id, day=day_of(event.occurred_at, zone))
    elif not in_place:
        facts = facts.model_copy(deep=True)
    progress = reduce(progress_of(facts), event)
    _apply(facts, event)
    facts.status, facts.summoned = progress.status, dict(progress.parts)
    if isinstance(event, TicketSubmitted) and facts.received_at == event.occurred_at:
        facts.day = day_of(event.occurred_at, zone)
    facts.applied = remember(facts.applied, event.event_id)
    return facts
