"""What a 12345 operator needs on a call, and no one else may ask.

    POST /api/v1/caller-lookups        {"phone": …}: the caller's earlier tickets
    GET  /api/v1/tickets/{id}/reporter the reporter's name and number, for a callback (回访)

Both are for operators only (a key of the hotline, or an operator at the console), and
each answer leaves an audit line naming the operator — never the number: the lookup is by
the keyed pseudonym intake already keeps (`reporter_ref`, HMAC of the number), the number
travels in a POST body (not in a URL that access logs would keep), and it stays out of
events and logs as everywhere else.
"""

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from chuishao.common.commands import Phone
from chuishao.common.errors import ApiError, ErrorResponse
from chuishao.common.ids import reporter_ref
from chuishao.intake.api import AUTH_RESPONSES, Caller, intake_of, rejected
from chuishao.intake.lifecycle import Actor, CommandRejected
from chuishao.intake.search import Filters, search
from chuishao.intake.views import TicketPage, TicketView

router = APIRouter(prefix="/api/v1", tags=["hotline"])
log = structlog.get_logger()
OPERATORS_ONLY: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    403: {"model": ErrorResponse, "description": "Not a 12345 operator"},
}


class CallerLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Phone


class ReporterContactView(BaseModel):
    ticket_id: str
    name: str | None
    phone: str | None


def _operator(actor: Actor) -> str:
    """The operator's name for the audit line, or 403."""
    if actor.kind != "operator":
        raise ApiError(
            403,
            "operators_only",
            "只有 12345 话务员可以查询来电人的信息",
            "Only a 12345 operator may look up a caller",
        )
    return actor.person or actor.id


@router.post("/caller-lookups", response_model=TicketPage, responses=OPERATORS_ONLY)
async def caller_lookup(
    lookup: CallerLookup,
    request: Request,
    actor: Caller,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TicketPage:
    """The tickets this number reported, newest first (operators only; audited)."""
    operator = _operator(actor)
    intake = intake_of(request)
    ref = reporter_ref(intake.reporter_secret, lookup.phone)
    page = await search(intake.store.redis, intake.store, Filters(reporter_ref=ref), limit)
    log.info("caller_looked_up", operator=operator, reporter_ref=ref, found=len(page.items))
    return TicketPage(items=[TicketView.of(r) for r in page.items], next_cursor=None)


@router.get(
    "/tickets/{ticket_id}/reporter",
    response_model=ReporterContactView,
    responses={**OPERATORS_ONLY, 404: {"model": ErrorResponse, "description": "No such ticket"}},
)
async def reporter_contact(ticket_id: str, request: Request, actor: Caller) -> ReporterContactView:
    """Who to call back: the reporter's name and number as given (operators only; audited).
    Both are empty once the retention sweep has erased them (docs/intake.md)."""
    operator = _operator(actor)
    intake = intake_of(request)
    try:
        record = await intake.read(ticket_id, actor)
    except CommandRejected as error:
        raise rejected(error) from error
    reporter = record.reporter
    log.info("reporter_contact_read", operator=operator, ticket_id=record.ticket_id)
    return ReporterContactView(
        ticket_id=record.ticket_id,
        name=reporter.name if reporter else None,
        phone=reporter.phone if reporter else None,
    )


class ReporterRef(BaseModel):
    reporter_ref: str = Field(description="The keyed pseudonym of the number (r_…)")


@router.post(
    "/reporter-refs",
    response_model=ReporterRef,
    responses={
        **AUTH_RESPONSES,
        403: {"model": ErrorResponse, "description": "Not an operator or a unit"},
    },
)
async def reporter_ref_of(lookup: CallerLookup, request: Request, actor: Caller) -> ReporterRef:
    """The pseudonym of a resident's number, for the points ledger a community service
    centre keeps (积分): for 12345 operators and units (a clerk at the console); audited.
    The number is never stored or logged here."""
    if actor.kind not in ("operator", "unit"):
        raise ApiError(
            403,
            "forbidden",
            "只有 12345 话务员和承办单位可以查询积分账户",
            "Only 12345 operators and units may look up a points account",
        )
    intake = intake_of(request)
    ref = reporter_ref(intake.reporter_secret, lookup.phone)
    log.info("reporter_ref_looked_up", by=actor.person or actor.id, reporter_ref=ref)
    return ReporterRef(reporter_ref=ref)
