"""What the router remembers about each ticket it routed: the types only (no Redis here, so
the handlers can name them); `chuishao.router.store` keeps them in Redis.

Later events (declined, reopened, transferred, escalated) carry neither the place nor the
description, and the re-dispatch needs both; and "never the same unit straight back"
needs who declined. Each state records the events it has applied, so a redelivery that
got past the handled marker still changes nothing.
"""

from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chuishao.common.domain import (
    CategoryCode,
    Level,
    Location,
    Priority,
    Role,
    TicketId,
    UnitId,
    Whistle,
)
from chuishao.common.events import TicketNeedsManualDispatch
from chuishao.common.handled import remember
from chuishao.common.packing import PackedValue, Packing, registered
from chuishao.common.queries import SuggestedCategory
from chuishao.router.decision import RoutingRequest
from chuishao.router.places import Place

# Frozen: states are packed with it (a new dictionary is a new version beside it,
# scripts/packing_dictionaries.py).
PACKING = registered(
    Packing(
        "router state",
        Path(__file__).parent / "data" / "packing",
        {1: "8b56a24e3a2b7e686ed3406c20380112069919101582d06b09ac7495c33c909f"},
    )
)


class RoutedUnit(BaseModel):
    model_config = ConfigDict(frozen=True)

    unit_id: UnitId
    role: Role


class ManualEntry(BaseModel):
    """A ticket waiting for a command centre to dispatch it by hand."""

    model_config = ConfigDict(frozen=True)

    arbiter_id: UnitId
    reason: str
    suggested_category: CategoryCode | None = None
    confidence: float | None = None
    suggestions: tuple[SuggestedCategory, ...] = ()  # triage's best three
    cause: TicketNeedsManualDispatch = Field(description="The event that queued it")


class TicketRouting(BaseModel, PackedValue):
    packing: ClassVar[Packing] = PACKING
    model_config = ConfigDict(frozen=True)

    ticket_id: TicketId
    category: CategoryCode | None
    priority: Priority
    description: str
    location: Location
    media_urls: tuple[str, ...] = ()
    place: Place | None
    level: Level = Level.COMMUNITY
    whistle: Whistle = Whistle.DAILY
    assignments: tuple[RoutedUnit, ...] = ()
    alternates: tuple[UnitId, ...] = ()
    declined: tuple[UnitId, ...] = ()
    bounces: int = 0
    manual: ManualEntry | None = None
    applied: tuple[str, ...] = ()
    revision: int = 0

    def routing_request(self, category: CategoryCode) -> RoutingRequest:
        """What the plugins are asked to place this ticket under `category`: its own when
        it is routed, or one a dispatcher might pick (the manual queue's unit suggestions),
        so both ask the same question."""
        return RoutingRequest(
            ticket_id=self.ticket_id,
            category=category,
            description=self.description,
            priority=self.priority,
            location=self.location,
            place=self.place,
        )

    def role_of(self, unit_id: str) -> Role | None:
        return next((a.role for a in self.assignments if a.unit_id == unit_id), None)

    def assigned(self) -> tuple[str, ...]:
        return tuple(a.unit_id for a in self.assignments)

    def with_assignment(self, unit_id: str, role: Role) -> "TicketRouting":
        kept = tuple(a for a in self.assignments if a.unit_id != unit_id)
        return self.model_copy(
            update={"assignments": (*kept, RoutedUnit(unit_id=unit_id, role=role))}
        )

    def without(self, unit_id: str) -> "TicketRouting":
        kept = tuple(a for a in self.assignments if a.unit_id != unit_id)
        return self.model_copy(update={"assignments": kept})

    def applying(self, event_id: str) -> "TicketRouting":
        return self.model_copy(update={"applied": remember(self.applied, event_id)})

    def stored_json(self) -> str:
        """In full: a state's defaults are few, its manual entry's event is whole."""
        return self.model_dump_json()


# An emergency's score is its queue time moved this far back (about 317 years), so every
# danger sorts before every ordinary ticket and the emergencies stay oldest first.
EMERGENCY_AHEAD_SECONDS = 10_000_000_000.0


def queue_score(entry: ManualEntry) -> float:
    """Where a waiting ticket stands in its centre's queue (a sorted set, lowest first)."""
    queued_at = entry.cause.occurred_at.timestamp()
    if entry.cause.priority == Priority.EMERGENCY:
        return queued_at - EMERGENCY_AHEAD_SECONDS
    return queued_at
