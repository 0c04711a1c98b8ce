"""The manual dispatch queue: what no rule could place waits here for its street command
centre (or the district), which lists it and assigns units by hand.

    cmd.unit.<centre_id>.manual.list     ListManualQueue   → the centre's waiting tickets
    cmd.unit.<centre_id>.manual.assign   AssignTicket      → dispatches, like a rule would

The subjects sit under the centre's own cmd.unit.<id>.> tree, so the NATS permissions
that let a unit publish only its own commands also keep one centre out of another's
queue. Five tokens, so intake's cmd.unit.*.* never sees them.
"""

from pydantic import BaseModel, ConfigDict, Field

from chuishao.common.domain import CategoryCode, Level, Priority, TicketId, UnitId, Whistle
from chuishao.common.queries import QueuedTicket
from chuishao.router.decision import RoutingDecision
from chuishao.router.emit import Outcome, summon
from chuishao.router.snapshot import Snapshot
from chuishao.router.state import TicketRouting
from chuishao.router.units import Unit

LADDER = list(Level)

SUBJECTS = "cmd.unit.*.manual.*"


def subject(centre_id: str, verb: str) -> str:
    return f"cmd.unit.{centre_id}.manual.{verb}"


class ListManualQueue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)


class AssignTicket(BaseModel):
    """Dispatch a queued ticket by hand: a lead, co-handlers, and the whistle to blow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: TicketId
    lead: UnitId
    co: tuple[UnitId, ...] = ()
    category: CategoryCode | None = Field(
        default=None, description="Required when the ticket has none yet"
    )
    whistle: Whistle = Whistle.DAILY
    level: Level | None = None
    note: str = Field(default="", max_length=500)


class AssignmentRejected(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def queued(state: TicketRouting) -> QueuedTicket:
    assert state.manual is not None
    return QueuedTicket(
        ticket_id=state.ticket_id,
        queued_at=state.manual.cause.occurred_at,
        reason=state.manual.reason,
        category=state.category,
        suggested_category=state.manual.suggested_category,
        confidence=state.manual.confidence,
        priority=state.priority,
        place=state.place.codes() if state.place else (),
        declined_by=state.declined,
        description=state.description,
    )


def above(level: Level, ceiling: Level) -> bool:
    return LADDER.index(level) > LADDER.index(ceiling)


def placed_at(lead: Unit, centre: Unit | None) -> Level:
    """The level a hand-assigned ticket sits at: the lead's, but never above the centre
    that assigned it. A street that hands a ticket to a district bureau keeps it at the
    street's level, so it escalates street → district → city like a ruled one, not
    straight from the district to the city."""
    if centre is None or LADDER.index(lead.level) <= LADDER.index(centre.level):
        return lead.level
    return centre.level


def assign(
    command: AssignTicket, centre_id: str, state: TicketRouting | None, snap: Snapshot
) -> Outcome:
    if state is None:
        raise AssignmentRejected("not_found", f"the router knows no ticket {command.ticket_id}")
    if state.manual is None:
        if state.role_of(command.lead) is not None:
            return Outcome([], None)  # the same assignment, retried: already done
        raise AssignmentRejected("not_queued", "the ticket is not waiting for manual dispatch")
    if state.manual.arbiter_id != centre_id:
        raise AssignmentRejected("not_yours", f"the ticket waits for {state.manual.arbiter_id}")
    category = command.category or state.category
    if category is None:
        raise AssignmentRejected("category_required", "the ticket has no category: give one")
    if category not in {entry.code for entry in snap.catalogue}:
        raise AssignmentRejected("unknown_category", f"no plugin serves category {category}")
    unknown = [u for u in (command.lead, *command.co) if snap.directory.get_unit(u) is None]
    if unknown:
        raise AssignmentRejected("unknown_unit", f"not in the directory: {', '.join(unknown)}")
    centre = snap.directory.get_unit(centre_id)
    if command.level is not None and centre is not None and above(command.level, centre.level):
        # A centre answers at its own level: a street may not place a ticket at the
        # district or the city (its clocks and escalations would skip the levels between).
        raise AssignmentRejected(
            "level_above_centre",
            f"{centre_id} assigns at {centre.level} or below, not at {command.level}",
        )
    lead = snap.directory.unit(command.lead)
    note = f": {command.note}" if command.note else ""
    decision = RoutingDecision(
        lead=lead.id,
        co=tuple(u for u in dict.fromkeys(command.co) if u != lead.id),
        level=command.level or placed_at(lead, centre),
        whistle=command.whistle,
        priority=Priority.EMERGENCY if command.whistle == Whistle.EMERGENCY else state.priority,
        reason=f"dispatched by hand by {centre_id}{note}",
    )
    # Caused by the event that queued the ticket, so a retried command repeats its ids.
    cause = state.manual.cause
    return summon(cause, state.model_copy(update={"category": category}), decision, snap)
