"""The native HTTP API (JSON). Handlers parse, call the use case, shape the answer."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Body,
    Depends,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
    status,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from redis.exceptions import ConnectionError as RedisConnectionError

from chuishao.common import commands as c
from chuishao.common.domain import Channel
from chuishao.intake.attributes import InvalidAttribute
from chuishao.intake.lifecycle import VERBS, Actor, CommandRejected, Status
from chuishao.intake.search import BadCursor, Filters, search
from chuishao.intake.service import CatalogueNotLoaded, Intake, UnknownCategory
from chuishao.intake.views import Problem, SubmitAccepted, TicketPage, TicketView


class Detail(BaseModel):
    detail: str


router = APIRouter(
    prefix="/api/v1",
    tags=["tickets"],
    responses={
        429: {"model": Detail, "description": "Over this client's rate; see Retry-After"},
        503: {"model": Detail, "description": "At capacity or not confirmed; see Retry-After"},
    },
)
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Detail, "description": "No API key or token"},
    403: {"model": Problem, "description": "Not yours, or a key that is not valid"},
}
UNAVAILABLE = (TimeoutError, ConnectionError, NatsError, RedisConnectionError)


def intake_of(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def api_key_of(
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return x_api_key


async def caller(
    request: Request,
    api_key: Annotated[str | None, Depends(api_key_of)],
    token: Annotated[str | None, Query(description="A resident's link token")] = None,
) -> Actor:
    keys = intake_of(request).keys
    actor = keys.actor(api_key)
    if actor is None and token is not None:
        actor = keys.resident(request.path_params.get("ticket_id", ""), token)
    if actor is None:
        raise HTTPException(401 if not (api_key or token) else 403, "a valid API key is needed")
    return actor


Caller = Annotated[Actor, Depends(caller)]


def field_error(field: str, message: str, kind: str) -> JSONResponse:
    """The same shape FastAPI gives schema errors, so clients parse one format."""
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": [{"loc": ["body", field], "msg": message, "type": kind}]},
    )


def rejected(
    error: CommandRejected, record_status: Status | None = None, version: int | None = None
) -> JSONResponse:
    problem = Problem(detail=str(error), code=error.code, status=record_status, version=version)
    return JSONResponse(status_code=error.status_code, content=problem.model_dump(mode="json"))


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmitAccepted,
    responses={
        200: {"model": SubmitAccepted, "description": "A repeat (same Idempotency-Key)"},
        400: {"model": Detail, "description": "A body that is not JSON"},
        503: {"model": Detail, "description": "Not confirmed durable; retry with the same key"},
    },
)
async def submit_report(
    command: c.SubmitReport,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> SubmitAccepted | JSONResponse:
    """File a report. A 201 means it is stored durably in JetStream."""
    intake = intake_of(request)
    try:
        result = await intake.submit(command, idempotency_key)
    except UnknownCategory as error:
        return field_error("category", f"unknown category {error}", "unknown_category")
    except InvalidAttribute as error:
        return JSONResponse(
            status_code=422,
            content={
                "detail": [
                    {
                        "loc": ["body", "attributes", error.code],
                        "msg": str(error),
                        "type": "attribute",
                    }
                ]
            },
        )
    except CatalogueNotLoaded as error:
        raise HTTPException(503, str(error), headers={"Retry-After": "2"}) from error
    except UNAVAILABLE as error:
        raise HTTPException(
            503,
            "the report could not be confirmed durable; retry with the same Idempotency-Key",
            headers={"Retry-After": "5"},
        ) from error
    url = str(request.url_for("get_ticket", ticket_id=result.ticket_id))
    response.headers["Location"] = url
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return SubmitAccepted(
        ticket_id=result.ticket_id, status=result.status, url=url, linked_to=result.linked_to
    )


@router.get(
    "/tickets/{ticket_id}",
    response_model=TicketView,
    responses={**AUTH_RESPONSES, 404: {"model": Problem}},
)
async def get_ticket(ticket_id: str, request: Request, actor: Caller) -> TicketView | JSONResponse:
    """A ticket with its units, clocks and full history. Units see only their own."""
    try:
        return TicketView.of(await intake_of(request).read(ticket_id, actor))
    except CommandRejected as error:
        return rejected(error)


@router.get(
    "/tickets",
    response_model=TicketPage,
    responses={**AUTH_RESPONSES, 400: {"model": Detail, "description": "A bad cursor"}},
)
async def search_tickets(
    request: Request,
    actor: Caller,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    category: str | None = None,
    unit: str | None = None,
    street: str | None = None,
    channel: Channel | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> TicketPage:
    """Newest first. A unit's key searches only that unit's tickets."""
    if actor.kind == "resident":
        raise HTTPException(403, "residents read their own ticket by its link")
    if actor.kind == "unit":
        if unit not in (None, actor.id):
            raise HTTPException(403, f"{actor.id} may search only its own tickets")
        unit = actor.id
    intake = intake_of(request)
    filters = Filters(
        status=status_,
        category=category,
        unit=unit,
        street=street,
        channel=channel,
        since=since,
        until=until,
        overdue_at=intake.clock.now() if overdue else None,
    )
    try:
        page = await search(intake.store.redis, intake.store, filters, limit, cursor)
    except BadCursor as error:
        raise HTTPException(400, str(error)) from error
    return TicketPage(items=[TicketView.of(r) for r in page.items], next_cursor=page.next_cursor)


def body_model(command: type[c.TicketCommand]) -> type[BaseModel]:
    """The command's fields minus what the path and the contract fix."""
    fields: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in command.model_fields.items()
        if name not in ("ticket_id", "type", "schema_version")
    }
    return create_model(
        f"{command.__name__}Body",
        __config__=ConfigDict(extra="forbid"),
        __doc__=command.__doc__,
        **fields,
    )


def _command_route(path: str, command: type[c.TicketCommand], summary: str) -> None:
    body_type = body_model(command)

    async def run(
        ticket_id: str,
        request: Request,
        actor: Caller,
        body: Annotated[body_type | None, Body()] = None,  # type: ignore[valid-type]
        idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    ) -> TicketView | JSONResponse:
        fields: dict[str, Any] = body.model_dump(exclude_unset=True) if body is not None else {}
        try:
            parsed = command.model_validate({**fields, "ticket_id": ticket_id})
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("path", *e["loc"])} for e in error.errors()]
            ) from error
        intake = intake_of(request)
        try:
            record = await intake.execute(parsed, actor, idempotency_key)
        except CommandRejected as error:
            current = await intake.store.get(ticket_id)
            return rejected(
                error, current.status if current else None, current.version if current else None
            )
        except UNAVAILABLE as error:
            raise HTTPException(
                503,
                "not confirmed; retry with the same Idempotency-Key",
                headers={"Retry-After": "5"},
            ) from error
        return TicketView.of(record)

    router.add_api_route(
        f"/tickets/{{ticket_id}}/{path}",
        run,
        methods=["POST"],
        response_model=TicketView,
        summary=summary,
        name=command.__name__,
        description=command.__doc__ or "",
        responses={
            **AUTH_RESPONSES,
            400: {"model": Detail, "description": "A body that is not JSON"},
            404: {"model": Problem},
            409: {"model": Problem, "description": "Not allowed in the current state"},
        },
    )


SUMMARIES = {
    "acknowledge": "Report for duty (报到/签收)",
    "decline": "Return the ticket (退单)",
    "notes": "Add a progress note",
    "extension-requests": "Ask for more time (延期)",
    "extension-decisions": "Approve or deny an extension",
    "transfer": "Transfer to another unit (转办)",
    "awaiting-resident": "Wait on the resident (clocks pause)",
    "resident-replies": "The resident answered",
    "resolve": "Sign off with evidence (办结)",
    "rating": "Rate the handling (满意/基本满意/不满意)",
    "close": "Close the ticket",
    "recategorise": "Change category or priority",
    "split": "Split a wrongly linked report back out",
}
for _verb, _command in VERBS.items():
    _command_route(_verb, _command, SUMMARIES[_verb])
