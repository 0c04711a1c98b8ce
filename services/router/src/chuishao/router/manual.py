"""The manual dispatch queue: what no rule could place waits here for its street command
centre (or the district), which lists it and assigns units by hand.

    cmd.unit.<centre_id>.manual.list     ListManualQueue   → the centre's waiting tickets
    cmd.unit.<centre_id>.manual.assign   AssignTicket      → dispatches, like a rule would

The subjects sit under the centre's own cmd.unit.<id>.> tree, so the NATS permissions
that let a unit publish only its own commands also keep one centre out of another's
queue. Five tokens, so intake's cmd.unit.*.* never sees them (chuishao.common.subjects).
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chuishao.common import subjects
from chuishao.common.domain import CategoryCode, Level, Priority, TicketId, UnitId, Whistle
from chuishao.common.errors import ErrorDetail, invalid_request, nats_error_reply, nats_refusal
from chuishao.common.queries import QueuedTicket, SuggestedCategory
from chuishao.router.decision import RoutingDecision
from chuishao.router.emit import RoutingResult, summon
from chuishao.router.snapshot import Snapshot
from chuishao.router.state import TicketRouting
from chuishao.router.units import Unit

LADDER = list(Level)

SUBJECTS = subjects.MANUAL_COMMANDS
subject = subjects.manual_command
VERBS = ("assign", "list")
Reply = dict[str, Any]


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
    # The console account that assigned it (intake passes it on, docs/console.md): the
    # dispatches name it, so the ticket's history does.
    person: str | None = Field(default=None, max_length=64)


class AssignmentRejected(ValueError):
    def __init__(
        self, code: str, message_zh: str, message_en: str, field: str | None = None
    ) -> None:
        super().__init__(message_en)
        self.code = code
        self.detail = ErrorDetail(
            code=code, message_zh=message_zh, message_en=message_en, field=field
        )


def refused(error: AssignmentRejected | ValidationError) -> Reply:
    """The reply to a refused manual command, in the one NATS error shape."""
    if isinstance(error, ValidationError):
        return nats_error_reply(invalid_request(error))
    return nats_error_reply(error.detail)


def unknown_verb(verb: str) -> Reply:
    verbs = ", ".join(VERBS)
    return nats_refusal(
        "unknown_verb",
        f"没有 {verb} 这项操作，可用的有：{verbs}",
        f"There is no command {verb!r}; use one of: {verbs}",
    )


def units_for(state: TicketRouting, category: str | None, snap: Snapshot | None) -> tuple[str, ...]:
    """The units `category`'s rule would summon at the ticket's place (lead first), for
    the dispatcher to pick from; none when no rule places it there."""
    if snap is None or category is None or category not in {c.code for c in snap.catalogue}:
        return ()
    decision = snap.dispatcher.decide(state.routing_request(category))
    return decision.units if decision is not None else ()


def queued(state: TicketRouting, snap: Snapshot | None = None) -> QueuedTicket:
    assert state.manual is not None
    suggestions = tuple(
        SuggestedCategory(
            category=s.category,
            confidence=s.confidence,
            units=units_for(state, s.category, snap),
        )
        for s in state.manual.suggestions
    )
    best = state.category or state.manual.suggested_category
    return QueuedTicket(
        ticket_id=state.ticket_id,
        queued_at=state.manual.cause.occurred_at,
        reason=state.manual.reason,
        category=state.category,
        suggested_category=state.manual.suggested_category,
        confidence=state.manual.confidence,
        suggestions=suggestions,
        priority=state.priority,
        place=state.place.codes() if state.place else (),
        declined_by=state.declined,
        description=state.description,
        suggested_units=units_for(state, best, snap),
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
) -> RoutingResult:
    if state is None:
        raise AssignmentRejected(
            "not_found", "没有这张工单", f"the router knows no ticket {command.ticket_id}"
        )
    if state.manual is None:
        if state.role_of(command.lead) is not None:
            return RoutingResult([], None)  # the same assignment, retried: already done
        raise AssignmentRejected(
            "not_queued",
            "这张工单不在待派单队列中（可能已经派出）",
            "the ticket is not waiting for manual dispatch",
        )
    if state.manual.arbiter_id != centre_id:
        raise AssignmentRejected(
            "not_yours",
            "这张工单等待的是另一个指挥中心派单",
            f"the ticket waits for {state.manual.arbiter_id}",
        )
    category = command.category or state.category
    if category is None:
        raise AssignmentRejected(
            "category_required",
            "这张工单还没有分类，请同时选择一个分类",
            "the ticket has no category: give one",
            field="category",
        )
    if category not in {entry.code for entry in snap.catalogue}:
        raise AssignmentRejected(
            "unknown_category",
            "没有这个分类，请从分类列表中选择",
            f"no plugin serves category {category}",
            field="category",
        )
    unknown = [u for u in (command.lead, *command.co) if snap.directory.get_unit(u) is None]
    if unknown:
        raise AssignmentRejected(
            "unknown_unit",
            "名录中没有这个单位，请核对单位编号",
            f"not in the directory: {', '.join(unknown)}",
            field="lead",
        )
    centre = snap.directory.get_unit(centre_id)
    if command.level is not None and centre is not None and above(command.level, centre.level):
        # A centre answers at its own level: a street may not place a ticket at the
        # district or the city (its clocks and escalations would skip the levels between).
        raise AssignmentRejected(
            "level_above_centre",
            "派单级别不能高于本指挥中心的级别（街道最高为街道级，区最高为区级）",
            f"{centre_id} assigns at {centre.level} or below, not at {command.level}",
            field="level",
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
    result = summon(cause, state.model_copy(update={"category": category}), decision, snap)
    if command.person is None:
        return result
    events = [event.model_copy(update={"person": command.person}) for event in result.events]
    return RoutingResult(events, result.state)
