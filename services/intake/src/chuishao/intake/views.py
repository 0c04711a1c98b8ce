"""What the HTTP API returns: the record without the reporter's personal data."""

from datetime import datetime

from pydantic import BaseModel

from chuishao.common.domain import Channel, Location, Priority, Rating
from chuishao.intake.lifecycle import Status
from chuishao.intake.records import (
    Assignment,
    ClockView,
    HistoryEntry,
    LinkedReport,
    Resolution,
    SignOff,
    TicketRecord,
)


class SubmitAccepted(BaseModel):
    ticket_id: str
    status: Status
    url: str
    linked_to: str | None = None


class TicketView(BaseModel):
    ticket_id: str
    status: Status
    category: str | None
    description: str
    priority: Priority
    channel: Channel
    location: Location
    street: str | None
    media_urls: tuple[str, ...]
    submitted_at: datetime
    updated_at: datetime
    lead_unit: str | None
    assignments: list[Assignment]
    deadline: datetime | None
    clocks: list[ClockView]
    declines: int
    reopen_count: int
    rating: Rating | None
    resolution: Resolution | None
    sign_offs: list[SignOff]
    linked_to: str | None
    linked_reports: list[str]
    linked_details: list[LinkedReport]
    interest_count: int
    suggested_category: str | None
    history: list[HistoryEntry]
    version: int

    @classmethod
    def of(cls, record: TicketRecord) -> "TicketView":
        return cls(
            **record.model_dump(exclude={"reporter", "reporter_ref", "correlation_id"}),
            lead_unit=record.lead_unit,
            deadline=record.deadline,
            interest_count=record.interest_count,
        )


class TicketPage(BaseModel):
    items: list[TicketView]
    next_cursor: str | None
