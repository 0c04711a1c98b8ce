"""Queries between services (request/reply), for data that must not travel in events."""

from pydantic import BaseModel, ConfigDict

from chuishao.common.domain import TicketId


class ReporterContactQuery(BaseModel):
    """notify asks intake how to reach a ticket's reporter (subject: REPORTER_CONTACT)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: TicketId


class ReporterContact(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: TicketId
    phone: str | None
    name: str | None
    opted_out: bool = False
