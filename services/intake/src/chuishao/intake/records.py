"""The ticket record intake keeps in Redis: current state plus append-only history."""

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from chuishao.common.commands import Reporter
from chuishao.common.domain import (
    Channel,
    ClockKind,
    Level,
    Location,
    Priority,
    Role,
    Whistle,
)


class Status(StrEnum):
    SUBMITTED = "submitted"
    DISPATCHED = "dispatched"
    MANUAL_DISPATCH = "manual_dispatch"


class Assignment(BaseModel):
    unit_id: str
    unit_name: str
    role: Role
    level: Level
    whistle: Whistle
    dispatched_at: AwareDatetime
    notified_at: AwareDatetime | None = None


class ClockView(BaseModel):
    clock: ClockKind
    level: Level
    unit_id: str | None
    deadline: AwareDatetime


class HistoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    type: str
    at: AwareDatetime
    producer: str
    summary: str


class TicketRecord(BaseModel):
    ticket_id: str
    status: Status
    category: str | None
    description: str
    priority: Priority
    channel: Channel
    location: Location
    media_urls: tuple[str, ...]
    reporter: Reporter | None
    reporter_ref: str | None
    submitted_at: AwareDatetime
    updated_at: AwareDatetime
    assignments: list[Assignment] = []
    clocks: list[ClockView] = []
    history: list[HistoryEntry] = []
    version: int = 1

    @property
    def deadline(self) -> datetime | None:
        pending = [clock.deadline for clock in self.clocks]
        return min(pending) if pending else None

    def has_applied(self, event_id: str) -> bool:
        return any(entry.event_id == event_id for entry in self.history)
