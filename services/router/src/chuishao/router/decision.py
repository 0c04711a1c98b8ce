"""What a category plugin is asked, and what it answers."""

from pydantic import BaseModel, ConfigDict, Field

from chuishao.common.domain import (
    CategoryCode,
    Level,
    Location,
    Priority,
    TicketId,
    UnitId,
    Whistle,
)
from chuishao.router.places import Place


class RoutingRequest(BaseModel):
    """A ticket to place: its category (given, or suggested by triage) and its place as
    far as the directory could tell (None: outside every place the directory knows)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: TicketId
    category: CategoryCode
    description: str
    priority: Priority
    location: Location
    place: Place | None

    def mentions(self, words: tuple[str, ...]) -> bool:
        return any(word in self.description for word in words)


class RoutingDecision(BaseModel):
    """Who must act: one lead unit (主办) and optional co-handlers (协办)."""

    model_config = ConfigDict(frozen=True)

    lead: UnitId
    co: tuple[UnitId, ...] = ()
    alternates: tuple[UnitId, ...] = Field(
        default=(), description="Who takes the lead, in order, if the lead declines (退单)"
    )
    level: Level
    whistle: Whistle
    priority: Priority
    reason: str
    report_within_seconds: int | None = Field(
        default=None, gt=0, description="For a whistle: overrides the router's default"
    )

    @property
    def units(self) -> tuple[UnitId, ...]:
        return (self.lead, *self.co)
