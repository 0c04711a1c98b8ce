"""The native HTTP API (JSON). Handlers parse, call the use case, shape the answer."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from redis.exceptions import ConnectionError as RedisConnectionError

from chuishao.common import commands as c
from chuishao.common.domain import Channel
from chuishao.common.errors import ApiError, ErrorResponse
from chuishao.common.person_tokens import HEADER as PERSON_HEADER
from chuishao.common.tokens import resident_token
from chuishao.intake.attributes import InvalidAttribute
from chuishao.intake.lifecycle import VERBS, Actor, CommandRejected, Status
from chuishao.intake.photo_links import with_full_photos, with_resident_photos
from chuishao.intake.proactive import check_proactive
from chuishao.intake.records import TicketRecord
from chuishao.intake.search import BadCursor, Filters, scope_keys, search
from chuishao.intake.service import CatalogueNotLoaded, Intake, UnknownCategory
from chuishao.intake.views import (
    AnyTicketView,
    ResidentTicketView,
    SubmitAccepted,
    TicketPage,
    TicketView,
    view_of,
)

# Every refusal is an ErrorResponse: {"error": {code, message_zh, message_en, field}};
# the statuses any route may answer (400, 422, 429, 503) are http_errors.NATIVE_RESPONSES.
router = APIRouter(prefix="/api/v1", tags=["tickets"])
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No API key or link token"},
    403: {"model": ErrorResponse, "description": "Not yours, or a key or link that is not valid"},
}
UNAVAILABLE = (TimeoutError, ConnectionError, NatsError, RedisConnectionError)


def intake_of(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


# Declared as the security scheme, so the docs page (/docs) has an "Authorize" button that
# sends the key; auto_error=False: a missing key is refused by `caller`, in our shape.
# (`Authorization: Bearer <key>` works too, as a plain header: one scheme keeps clients
# generated from the document, and the fuzzing, from thinking either one is enough alone.)
API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="A unit's, operator's or Open311 client's API key",
    auto_error=False,
)


async def api_key_of(
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Security(API_KEY)] = None,
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
    # The console's key comes with the person at its screen (docs/console.md).
    actor = keys.actor(api_key, request.headers.get(PERSON_HEADER))
    if actor is None and token is not None:
        actor = keys.resident(request.path_params.get("ticket_id", ""), token)
    if actor is None:
        raise refused_caller(api_key, token)
    return actor


def refused_caller(api_key: str | None, token: str | None) -> ApiError:
    """Say which credential failed: a resident holds a link, not a key."""
    if token is not None and not api_key:
        return ApiError(
            403,
            "invalid_link",
            "这个链接无效或不属于这张工单，请打开短信里的链接",
            "This link is not valid for this ticket; open the link from your SMS",
            field="token",
        )
    if api_key:
        return ApiError(
            403,
            "invalid_key",
            "API 密钥无效，请核对 X-API-Key 请求头中的密钥",
            "This API key is not valid; check the key in the X-API-Key header",
        )
    return ApiError(
        401,
        "key_required",
        "需要 API 密钥（X-API-Key 请求头），居民请使用短信里的链接",
        "An API key is needed in the X-API-Key header; residents use the link from their SMS",
    )


Caller = Annotated[Actor, Depends(caller)]


async def shown(
    intake: Intake, record: TicketRecord, actor: Actor, request: Request | None = None
) -> AnyTicketView:
    """The answer about a ticket, in the face its caller may see (views.view_of). A
    resident's linked report follows the ticket it joined. With the request, the photos
    of the photo store are listed, their URLs made for this caller (photo_links)."""
    followed = None
    if actor.kind == "resident" and record.linked_to is not None:
        followed = await intake.store.get(record.linked_to)
    view = view_of(record, actor, followed)
    if request is None:
        return view
    if isinstance(view, ResidentTicketView):
        return await with_resident_photos(request, intake, view, record)
    return await with_full_photos(request, view, record)


# A unit, supervisor or operator gets the whole record ("view": "full"); a resident's link
# only the public face and their own report ("view": "resident").
VIEW_DOC = (
    "`view` says which face: `full` (TicketView) for units, supervisors and operators, "
    "`resident` (ResidentTicketView) for a resident's SMS link — the public face of the "
    "ticket and their own report only."
)


def rejected(error: CommandRejected) -> ApiError:
    """A lifecycle refusal in the one shape; the ticket's state is not disclosed."""
    return ApiError(
        error.status_code,
        error.code,
        error.message_zh,
        error.message_en,
        field=error.field,
    )


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmitAccepted,
    responses={
        200: {"model": SubmitAccepted, "description": "A repeat (same Idempotency-Key)"},
        403: {
            "model": ErrorResponse,
            "description": "`answered` by anyone but an operator, or channel `proactive` by "
            "anyone but a command centre on its own streets",
        },
        503: {
            "model": ErrorResponse,
            "description": "Not confirmed durable; retry with the same key",
        },
    },
    # Anyone may report: a key is optional here (it scopes the Idempotency-Key), and the
    # empty requirement says so to the docs page and to clients generated from the document.
    openapi_extra={"security": [{}]},
)
async def submit_report(
    command: c.SubmitReport,
    request: Request,
    response: Response,
    api_key: Annotated[str | None, Depends(api_key_of)],
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> SubmitAccepted:
    """File a report. A 201 means it is stored durably in JetStream. An Idempotency-Key
    counts per client (the key's holder; anonymous reports per channel) and per report."""
    intake = intake_of(request)
    sender = intake.keys.actor(api_key, request.headers.get(PERSON_HEADER))
    client = f"{sender.kind}:{sender.id}" if sender else f"anon:{command.channel}"
    if command.answered is not None and (sender is None or sender.kind != "operator"):
        raise ApiError(
            403,
            "answer_by_operator",
            "只有 12345 话务员可以直接答复（answered）",
            "Only a 12345 operator answers a call directly (answered)",
            field="answered",
        )
    check_proactive(command, sender, intake.places)
    try:
        result = await intake.submit(
            command, idempotency_key, client, person=sender.person if sender else None
        )
    except UnknownCategory as error:
        raise ApiError(
            422,
            "unknown_category",
            f"没有类别 {error}，请从 GET /open311/v2/services.json 的 service_code 中选一个",
            f"There is no category {error}; pick a service_code from GET /open311/v2/services.json",
            field="category",
        ) from error
    except InvalidAttribute as error:
        raise ApiError(
            422, "invalid_attribute", error.message_zh, str(error), field=f"attributes.{error.code}"
        ) from error
    except CatalogueNotLoaded as error:
        raise ApiError(
            503,
            "starting",
            "服务正在启动（类别目录尚未加载），请稍后重试",
            "Intake is starting (the category catalogue has not loaded); retry shortly",
            headers={"Retry-After": "2"},
        ) from error
    except UNAVAILABLE as error:
        raise ApiError(
            503,
            "not_confirmed",
            "报告未能确认保存，请用同一个 Idempotency-Key 重试",
            "The report could not be confirmed durable; retry with the same Idempotency-Key",
            headers={"Retry-After": "5"},
        ) from error
    url = str(request.url_for("get_ticket", ticket_id=result.ticket_id))
    response.headers["Location"] = url
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return SubmitAccepted(
        ticket_id=result.ticket_id,
        status=result.status,
        url=url,
        linked_to=result.linked_to,
        resident_token=resident_token(intake.keys.resident_secret, result.ticket_id),
    )


class DuplicateCheck(BaseModel):
    """Whether a report of this category here would join an open one ("已有人反映")."""

    joins: bool
    ticket_id: str | None = None
    distance_m: int | None = None
    reported_by: int = Field(default=0, description="How many have reported it so far")
    status: Status | None = None


@router.get(
    "/reports/duplicate-check",
    response_model=DuplicateCheck,
    openapi_extra={"security": [{}]},
)
async def duplicate_check(
    request: Request,
    category: Annotated[str, Query(pattern=r"^[a-z0-9_]{1,64}$")],
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    long: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
) -> DuplicateCheck:
    """Before filing (anyone may ask, as anyone may report): the open ticket a report of
    this category at this point would be joined to, and how many reported it. Nothing of
    what they wrote, who they are, or where exactly: the ticket's public id only."""
    intake = intake_of(request)
    found = await intake.duplicate_of(category, long, lat, intake.clock.now())
    if found is None:
        return DuplicateCheck(joins=False)
    record = found[0]
    return DuplicateCheck(
        joins=True,
        ticket_id=record.ticket_id,
        distance_m=round(found[1]),
        reported_by=record.interest_count,
        status=record.status,
    )


@router.get(
    "/tickets/{ticket_id}",
    response_model=AnyTicketView,
    responses={
        **AUTH_RESPONSES,
        200: {"description": VIEW_DOC},
        404: {"model": ErrorResponse, "description": "No such ticket"},
    },
)
async def get_ticket(ticket_id: str, request: Request, actor: Caller) -> AnyTicketView:
    """A ticket with its units, clocks and full history; units see only their own. A
    resident's link (`?token=`) gets the resident's view: status, category, the units,
    the deadline, the public timeline, the resolution with its evidence, the rating, and
    their own words and photos — nothing of other residents' reports."""
    intake = intake_of(request)
    try:
        record = await intake.read(ticket_id, actor)
    except CommandRejected as error:
        raise rejected(error) from error
    return await shown(intake, record, actor, request)


async def search_filters(
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
) -> Filters:
    """The search's filters within what the caller may know of (the search and the
    ticket exports take the same ones, so an export never reaches past a search)."""
    if actor.kind == "resident":
        raise ApiError(
            403,
            "forbidden",
            "居民链接只能打开它所属的那张工单，不能搜索",
            "A resident's link opens its own ticket only; it cannot search",
        )
    if actor.kind == "unit":
        if unit not in (None, actor.id):
            raise ApiError(
                403,
                "forbidden",
                "单位只能搜索派给自己的工单，请去掉 unit 参数",
                "A unit searches only its own tickets; leave out the unit parameter",
                field="unit",
            )
        unit = actor.id
    return Filters(
        status=status_,
        category=category,
        unit=unit,
        street=street,
        channel=channel,
        since=since,
        until=until,
        overdue_at=intake_of(request).clock.now() if overdue else None,
        within=scope_keys(actor),
    )


SearchFilters = Annotated[Filters, Depends(search_filters)]


@router.get(
    "/tickets",
    response_model=TicketPage,
    responses={**AUTH_RESPONSES, 400: {"model": ErrorResponse, "description": "A bad cursor"}},
)
async def search_tickets(
    request: Request,
    filters: SearchFilters,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    order: Annotated[
        Literal["newest", "oldest"],
        Query(description="By submission time; `oldest` for worklists (回访)"),
    ] = "newest",
) -> TicketPage:
    """Newest first (or `order=oldest`), within what the caller may know of: a unit its own
    tickets, a street's command centre its street, a district its district, the city level
    everything."""
    intake = intake_of(request)
    try:
        page = await search(
            intake.store.redis,
            intake.store,
            filters,
            limit,
            cursor,
            oldest_first=order == "oldest",
        )
    except BadCursor as error:
        raise ApiError(
            400,
            "bad_cursor",
            "cursor 无效，请使用上一页返回的 next_cursor",
            "The cursor is not valid; use the next_cursor of the previous page",
            field="cursor",
        ) from error
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
    ) -> AnyTicketView:
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
            raise rejected(error) from error
        except UNAVAILABLE as error:
            raise ApiError(
                503,
                "not_confirmed",
                "操作未能确认保存，请用同一个 Idempotency-Key 重试",
                "Not confirmed durable; retry with the same Idempotency-Key",
                headers={"Retry-After": "5"},
            ) from error
        return await shown(intake, record, actor, request)

    router.add_api_route(
        f"/tickets/{{ticket_id}}/{path}",
        run,
        methods=["POST"],
        response_model=AnyTicketView,
        summary=summary,
        name=command.__name__,
        description=command.__doc__ or "",
        responses={
            **AUTH_RESPONSES,
            200: {"description": VIEW_DOC},
            404: {"model": ErrorResponse, "description": "No such ticket"},
            409: {"model": ErrorResponse, "description": "Not allowed in the current state"},
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
    "callbacks": "Record a callback that reached no rating (回访: no answer, unreachable)",
    "close": "Close the ticket",
    "recategorise": "Change category or priority",
    "split": "Split a wrongly linked report back out",
    "urge": "Urge a unit by hand (督办)",
    "appeals": "A unit appeals what counts against it (申诉)",
    "appeal-decisions": "A district or city account upholds or rejects an appeal",
}
for _verb, _command in VERBS.items():
    _command_route(_verb, _command, SUMMARIES[_verb])
