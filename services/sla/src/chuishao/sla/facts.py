"""What sla keeps of each event: the few fields that move a clock. The ticket's clocks
are always re-derived from its facts (chuishao.sla.replay), so the order in which
events arrive, a redelivery, or a restart cannot leave them in a different state.

The last three kinds are sla's own decisions, recorded when a timer fires."""

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chuishao.common.domain import CategoryCode, ClockKind, Level, Priority, Role, UnitId
from chuishao.common.events import (
    Event,
    ExtensionApproved,
    TicketAcknowledged,
    TicketAwaitingResident,
    TicketClosed,
    TicketDeclined,
    TicketDispatched,
    TicketNeedsManualDispatch,
    TicketProgressNoted,
    TicketRecategorised,
    TicketReopened,
    TicketResidentReplied,
    TicketResolved,
    TicketTransferred,
    UnitSignedOff,
)


class _Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str
    at: AwareDatetime


class Dispatched(_Fact):
    type: Literal["dispatched"] = "dispatched"
    unit_id: UnitId
    role: Role
    level: Level
    category: CategoryCode
    priority: Priority
    street: str | None = None


class ManualQueued(_Fact):
    """The ticket waits for a command centre to dispatch it by hand."""

    type: Literal["manual_queued"] = "manual_queued"
    level: Level
    category: CategoryCode | None = None
    priority: Priority = Priority.NORMAL
    street: str | None = None


class Acknowledged(_Fact):
    type: Literal["acknowledged"] = "acknowledged"
    unit_id: UnitId


class Declined(_Fact):
    type: Literal["declined"] = "declined"
    unit_id: UnitId


class Transferred(_Fact):
    type: Literal["transferred"] = "transferred"
    from_unit_id: UnitId
    to_unit_id: UnitId


class Responded(_Fact):
    """Progress, a question to the resident or a sign-off: the first response."""

    type: Literal["responded"] = "responded"
    unit_id: UnitId


class AwaitingResident(_Fact):
    type: Literal["awaiting_resident"] = "awaiting_resident"
    unit_id: UnitId


class ResidentReplied(_Fact):
    type: Literal["resident_replied"] = "resident_replied"


class Extended(_Fact):
    type: Literal["extended"] = "extended"
    extra_seconds: int


class Recategorised(_Fact):
    type: Literal["recategorised"] = "recategorised"
    category: CategoryCode
    priority: Priority


class Resolved(_Fact):
    type: Literal["resolved"] = "resolved"


class Reopened(_Fact):
    type: Literal["reopened"] = "reopened"
    cycle: int


class Closed(_Fact):
    type: Literal["closed"] = "closed"


class Warned(_Fact):
    type: Literal["warned"] = "warned"
    clock_key: str


class Breached(_Fact):
    type: Literal["breached"] = "breached"
    clock_key: str
    overdue_seconds: int


class Escalated(_Fact):
    type: Literal["escalated"] = "escalated"
    clock: ClockKind
    from_level: Level
    to_level: Level
    cycle: int


Fact = Annotated[
    Dispatched
    | ManualQueued
    | Acknowledged
    | Declined
    | Transferred
    | Responded
    | AwaitingResident
    | ResidentReplied
    | Extended
    | Recategorised
    | Resolved
    | Reopened
    | Closed
    | Warned
    | Breached
    | Escalated,
    Field(discriminator="type"),
]


def fact_from(event: Event) -> Fact | None:
    """The fact an event contributes, or None when it does not move any clock."""
    key, at = event.event_id, event.occurred_at
    match event:
        case TicketDispatched():
            return Dispatched(
                event_id=key,
                at=at,
                unit_id=event.unit_id,
                role=event.role,
                level=event.level,
                category=event.category,
                priority=event.priority,
                street=getattr(event, "street", None),
            )
        case TicketNeedsManualDispatch() if event.level is not None:
            return ManualQueued(
                event_id=key,
                at=at,
                level=event.level,
                category=event.category,
                priority=event.priority,
                street=event.street,
            )
        case TicketAcknowledged():
            return Acknowledged(event_id=key, at=at, unit_id=event.unit_id)
        case TicketDeclined():
            return Declined(event_id=key, at=at, unit_id=event.unit_id)
        case TicketTransferred():
            return Transferred(
                event_id=key, at=at, from_unit_id=event.from_unit_id, to_unit_id=event.to_unit_id
            )
        case TicketProgressNoted() | UnitSignedOff():
            return Responded(event_id=key, at=at, unit_id=event.unit_id)
        case TicketAwaitingResident():
            return AwaitingResident(event_id=key, at=at, unit_id=event.unit_id)
        case TicketResidentReplied():
            return ResidentReplied(event_id=key, at=at)
        case ExtensionApproved():
            return Extended(event_id=key, at=at, extra_seconds=event.extra_seconds)
        case TicketRecategorised():
            return Recategorised(
                event_id=key, at=at, category=event.category, priority=event.priority
            )
        case TicketResolved():
            return Resolved(event_id=key, at=at)
        case TicketReopened():
            return Reopened(event_id=key, at=at, cycle=event.reopen_count)
        case TicketClosed():
            return Closed(event_id=key, at=at)
    return None
