"""The manual dispatch queue over HTTP, for the street command centres (and the district):
what no rule could place, listed and assigned by hand.

    GET  /api/v1/manual-queue               the caller's waiting tickets, dangers first
    POST /api/v1/tickets/{ticket_id}/assign  a lead, co-handlers, the whistle

There is one path for a hand dispatch: these routes send the router the same NATS
request a console would (`cmd.unit.<centre>.manual.list|assign`, router/manual.py), on
behalf of the centre whose key called. The router's queue is per command centre, so a
centre sees only the tickets waiting for it, which are those of its own street.
"""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict, Field

from chuishao.common import subjects
from chuishao.common.domain import CategoryCode, Level, TicketId, UnitId, Whistle
from chuishao.common.errors import ApiError, ErrorResponse
from chuishao.common.queries import QueuedTicket
from chuishao.intake.api import Caller, intake_of, rejected
from chuishao.intake.lifecycle import Actor, UnknownTicket
from chuishao.intake.scopes import can_see

router = APIRouter(prefix="/api/v1", tags=["manual dispatch"])
REPLY_TIMEOUT = 5.0

# The router's refusal codes, and what the centre is told.
REFUSALS: dict[str, tuple[int, str, str, str | None]] = {
    "not_found": (404, "没有这张工单", "There is no such ticket", None),
    "not_queued": (
        409,
        "这张工单不在待派单队列中（可能已经派出）",
        "The ticket is not waiting for manual dispatch (it may have been dispatched already)",
        None,
    ),
    "not_yours": (
        403,
        "这张工单等待的是另一个指挥中心派单",
        "The ticket waits for another command centre",
        None,
    ),
    "category_required": (
        422,
        "这张工单还没有分类，请同时选择一个分类",
        "The ticket has no category yet: choose one with the assignment",
        "category",
    ),
    "unknown_category": (422, "没有这个分类，请从分类列表中选择", "No such category", "category"),
    "level_above_centre": (
        422,
        "派单级别不能高于本指挥中心的级别（街道最高为街道级，区最高为区级）",
        "The level may not be above the assigning centre's own (a street: street at most; "
        "a district: district at most)",
        "level",
    ),
    "unknown_unit": (
        422,
        "名录中没有这个单位，请核对单位编号",
        "A unit is not in the directory; check the unit ids",
        "lead",
    ),
}


class ManualQueueListing(BaseModel):
    centre: UnitId
    tickets: list[QueuedTicket]


class ManualAssignment(BaseModel):
    """Dispatch a waiting ticket by hand: a lead unit (主办), co-handlers (协办), the
    whistle; a category when the ticket has none."""

    model_config = ConfigDict(extra="forbid")

    lead: UnitId
    co: tuple[UnitId, ...] = ()
    category: CategoryCode | None = Field(
        default=None, description="Required when the ticket has none yet"
    )
    whistle: Whistle = Whistle.DAILY
    level: Level | None = Field(
        default=None, description="Default: the lead's level, at most the centre's own"
    )
    note: str = Field(default="", max_length=500)


class Assigned(BaseModel):
    ticket_id: TicketId
    dispatched: list[UnitId]


async def _within_place(request: Request, ticket_id: str, actor: Actor) -> None:
    """A ticket outside the centre's place answers like one that does not exist (the same
    404 as every native route), before the router could say `not_yours` or `not_queued`.
    A ticket whose street intake does not know yet (its TicketNeedsManualDispatch still on
    its way) is left to the router, whose queue is per centre."""
    record = await intake_of(request).store.get(ticket_id)
    if record is None or (record.street is not None and not can_see(actor, record)):
        raise rejected(UnknownTicket("unknown_ticket", ticket_id=ticket_id))


def _centre(actor: Actor) -> str:
    if not actor.is_supervisor:
        raise ApiError(
            403,
            "needs_command_centre",
            "只有街道指挥中心或区级指挥中心可以人工派单",
            "Only a street or district command centre dispatches by hand",
        )
    return actor.id


async def _ask(request: Request, centre_id: str, verb: str, body: dict[str, Any]) -> Any:
    """The router's answer to cmd.unit.<centre>.manual.<verb>, or its refusal as ApiError."""
    connection = intake_of(request).broker.connection
    try:
        reply = await connection.request(
            subjects.manual_command(centre_id, verb),
            json.dumps(body, ensure_ascii=False).encode(),
            timeout=REPLY_TIMEOUT,
        )
    except (TimeoutError, NatsError) as error:
        raise ApiError(
            503,
            "router_unavailable",
            "派单服务暂时没有响应，请稍后重试",
            "The dispatcher did not answer; try again shortly",
            headers={"Retry-After": "5"},
        ) from error
    answer = json.loads(reply.data or b"{}")
    if answer.get("ok") is not False:
        return answer
    refusal = answer.get("error") or {}
    code = str(refusal.get("code", "rejected"))
    said = str(refusal.get("message_en") or refusal.get("detail") or code)
    status, zh, en, field = REFUSALS.get(code, (422, "派单未被接受", said, None))
    raise ApiError(status, code, refusal.get("message_zh") or zh, en, field=field)


@router.get(
    "/manual-queue",
    response_model=ManualQueueListing,
    responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}},
    summary="The tickets waiting for this command centre to dispatch them (待人工派单)",
)
async def manual_queue(
    request: Request,
    actor: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ManualQueueListing:
    """Emergencies (a danger found in the report) first, each group oldest first: the
    router's order, kept. A street's command centre sees the tickets of its street that
    no rule could place; the district's centre those escalated to it (or with no
    street)."""
    centre_id = _centre(actor)
    answer = await _ask(request, centre_id, "list", {"limit": limit})
    tickets: list[dict[str, Any]] = answer.get("tickets", [])
    # Listed once intake's record places the ticket within the centre's reach too: the
    # router queues it a moment before intake applies the TicketNeedsManualDispatch that
    # names its street, and the centre's next step (recategorise, read) goes to intake.
    records = await intake_of(request).store.get_many([t["ticket_id"] for t in tickets])
    reachable = {r.ticket_id for r in records if can_see(actor, r)}
    return ManualQueueListing(
        centre=centre_id, tickets=[t for t in tickets if t["ticket_id"] in reachable]
    )


@router.post(
    "/tickets/{ticket_id}/assign",
    response_model=Assigned,
    responses={
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse, "description": "Not a command centre, or not its ticket"},
        404: {"model": ErrorResponse},
        409: {"model": ErrorResponse, "description": "Not waiting for manual dispatch"},
        422: {
            "model": ErrorResponse,
            "description": "A category or a unit is missing or unknown, or the level is above "
            "the centre's own",
        },
        503: {"model": ErrorResponse, "description": "The router did not answer"},
    },
    summary="Dispatch a waiting ticket by hand (人工派单)",
)
async def assign(
    ticket_id: TicketId, assignment: ManualAssignment, request: Request, actor: Caller
) -> Assigned:
    """The same command as the NATS manual dispatch: the router dispatches the units as a
    rule would (their subjects, clocks, the ticket record). Repeating an accepted
    assignment changes nothing."""
    centre_id = _centre(actor)
    await _within_place(request, ticket_id, actor)
    body = {"ticket_id": ticket_id, **assignment.model_dump(mode="json", exclude_none=True)}
    if actor.person is not None:  # the console's person: the dispatches name them
        body["person"] = actor.person
    answer = await _ask(request, centre_id, "assign", body)
    return Assigned(ticket_id=ticket_id, dispatched=answer.get("dispatched", []))
