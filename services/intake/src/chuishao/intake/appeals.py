"""Appeals (申诉) across tickets: the worklist of a district's 申诉审核 and what a street or
a unit may read of them. Filing and deciding are lifecycle commands (lifecycle.py,
`appeals` and `appeal-decisions`); this only lists, within the caller's scope
(scopes.can_see), and a unit only its own appeals (docs/intake.md, "Appeals")."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from chuishao.common.errors import ApiError, ErrorResponse
from chuishao.intake.api import AUTH_RESPONSES, Caller, intake_of
from chuishao.intake.lifecycle import Actor, Status
from chuishao.intake.records import Appeal, TicketRecord
from chuishao.intake.search import Filters, scope_keys, search

router = APIRouter(prefix="/api/v1", tags=["tickets"])
# Tickets read per state: a worklist, not an export; the pending ones come first.
MAX_TICKETS = 200


class AppealItem(BaseModel):
    ticket_id: str
    category: str | None
    street: str | None
    status: Status
    submitted_at: datetime
    appeal: Appeal


class AppealList(BaseModel):
    items: list[AppealItem]


def _items(records: list[TicketRecord], actor: Actor) -> list[AppealItem]:
    return [
        AppealItem(
            ticket_id=r.ticket_id,
            category=r.category,
            street=r.street,
            status=r.status,
            submitted_at=r.submitted_at,
            appeal=appeal,
        )
        for r in records
        for appeal in r.appeals
        if actor.kind != "unit" or appeal.unit_id == actor.id
    ]


@router.get(
    "/appeals",
    response_model=AppealList,
    responses={**AUTH_RESPONSES, 400: {"model": ErrorResponse, "description": "Bad filter"}},
)
async def list_appeals(
    request: Request,
    actor: Caller,
    state: Annotated[Literal["pending", "all"], Query()] = "all",
) -> AppealList:
    """Appeals on the tickets the caller may know of: pending first (oldest filed first,
    as a worklist), then decided ones (newest decision first). A unit sees its own."""
    if actor.kind == "resident":
        raise ApiError(
            403,
            "forbidden",
            "居民链接不能查看申诉",
            "A resident's link cannot read appeals",
        )
    intake = intake_of(request)
    within = scope_keys(actor)
    pending_page = await search(
        intake.store.redis,
        intake.store,
        Filters(appeals="pending", within=within),
        MAX_TICKETS,
    )
    items = _items(pending_page.items, actor)
    pending = sorted((i for i in items if i.appeal.pending), key=lambda i: i.appeal.filed_at)
    decided: list[AppealItem] = []
    if state == "all":
        page = await search(
            intake.store.redis, intake.store, Filters(appeals="any", within=within), MAX_TICKETS
        )
        decided = [i for i in _items(page.items, actor) if not i.appeal.pending]
        decided.sort(key=lambda i: i.appeal.decided_at or i.appeal.filed_at, reverse=True)
    return AppealList(items=[*pending, *decided])
