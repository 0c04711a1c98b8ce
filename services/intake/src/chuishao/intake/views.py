"""What the HTTP API returns: the record without the reporter's personal data."""

from datetime import datetime

from pydantic import BaseModel

from chuishao.common.domain import Channel, Location, Priority
from chuishao.intake.records import Assignment, ClockView, HistoryEntry, Status, TicketRecord


class SubmitAccepted(BaseModel):
    ticket_id: str
    status: Status
    url: str


class TicketView(BaseModel):
    ticket_id: str
    status: Status
    category: str | None
    description: str
    priority: Priority
    channel: Channel
    location: Location
    media_urls: tuple[str, ...]
    submitted_at: datetime
    updated_at: datetime
    lead_unit: str | None
    assignments: list[Assignment]
    deadline: datetime | None
    clocks: list[ClockView]
    history: list[HistoryEntry]
    version: int

    @classmethod
    def of(cls, record: TicketRecord) -> "TicketView":
        lead = next((a.unit_id for a in record.assignments if a.role == "lead"), None)
        return cls(
            **record.model_dump(exclude={"reporter", "reporter_ref"}),
            lead_unit=lead,
            deadline=record.deadline,
        )
