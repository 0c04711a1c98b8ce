"""The seven Open311 routes. Each declares `fmt: Fmt` (the format, checked once) and
raises `Open311Error`; the route class answers it in the spec's shape."""

from datetime import timedelta
from typing import cast

from fastapi import APIRouter, Request, Response

from chuishao.common.ids import is_ticket_id
from chuishao.intake import indexes
from chuishao.intake.attributes import InvalidAttribute
from chuishao.intake.open311 import media
from chuishao.intake.open311.forms import parse_date, present, report_from_form
from chuishao.intake.open311.rendering import (
    Fmt,
    Open311Error,
    Open311Route,
    Row,
    documented,
    render,
    render_one,
)
from chuishao.intake.open311.rows import (
    definition_row,
    is_closed,
    request_row,
    service_row,
    w3c,
)
from chuishao.intake.public import public_update
from chuishao.intake.records import TicketRecord
from chuishao.intake.search import Filters, search
from chuishao.intake.service import CatalogueNotLoaded, Intake, UnknownCategory

router = APIRouter(
    prefix="/open311/v2",
    tags=["open311"],
    default_response_class=Response,
    route_class=Open311Route,
)
MAX_WINDOW = timedelta(days=90)
NOT_AN_ID = "service_request_id is not a request id such as T20261121000001"
# Caps on what one read returns, so nobody pulls the whole register in one request.
MAX_IDS = 50  # ids in one service_request_id=
MAX_RESULTS = 200  # rows in one list; narrow start_date/end_date for more


def intake_of(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def _name_of(intake: Intake, code: str | None) -> str | None:
    category = intake.catalogue.get(code) if code else None
    return category.name if category else None


async def _rows(intake: Intake, records: list[TicketRecord]) -> list[Row]:
    return [request_row(r, _name_of(intake, r.category)) for r in records]


@router.get(
    "/services.{fmt}", summary="List the service types (categories)", responses=documented(404)
)
async def services(fmt: Fmt, request: Request) -> Response:
    rows = [service_row(category) for category in intake_of(request).catalogue.all()]
    return render(fmt, "services", "service", rows)


@router.get(
    "/services/{code}.{fmt}",
    summary="A service type's attribute definitions",
    responses=documented(404),
)
async def service_definition(code: str, fmt: Fmt, request: Request) -> Response:
    category = intake_of(request).catalogue.get(code)
    if category is None:
        raise Open311Error(404, f"no service_code {code}")
    return render_one(fmt, "service_definition", definition_row(category))


@router.post(
    "/requests.{fmt}",
    summary="Create a service request (form-encoded, or multipart with a `media` photo)",
    status_code=201,
    responses=documented(400, 403, 404, created=True),
)
async def create_request(fmt: Fmt, request: Request) -> Response:
    """Form-encoded, or multipart with a photo in `media` (JPEG, PNG, WebP or HEIC, by
    content; kept without its EXIF): the answer's `media_url` shows it, signed for this
    request's ticket."""
    intake = intake_of(request)
    media.check_size(request)
    form = await media.form_of(request)
    in_body = form.get("api_key")
    api_key = present(in_body if isinstance(in_body, str) else None)
    api_key = api_key or present(request.query_params.get("api_key"))
    client = intake.keys.open311_client(api_key)
    if client is None:
        raise Open311Error(403, "api_key is missing or not valid")
    report = report_from_form(form)
    photo = await media.photo_of(request, form)
    attached = media.Attached(request, intake, photo, client) if photo is not None else None
    try:
        result = await intake.submit(report, media=attached)
    except UnknownCategory as error:
        raise Open311Error(404, f"no service_code {error}") from error
    except InvalidAttribute as error:
        raise Open311Error(400, f"attribute[{error.code}]: {error}") from error
    except CatalogueNotLoaded as error:
        raise Open311Error(503, str(error)) from error
    row = {"service_request_id": result.ticket_id, "service_notice": "", "account_id": None}
    if attached is not None and (url := attached.media_url(result.ticket_id)) is not None:
        row["media_url"] = url
    return render(fmt, "service_requests", "request", [row], 201)


@router.get(
    "/tokens/{token}.{fmt}", summary="The request id behind a token", responses=documented(404)
)
async def token(token: str, fmt: Fmt, request: Request) -> Response:
    # Requests get their id at once, so a token is the id itself.
    if not is_ticket_id(token):
        raise Open311Error(404, "no such token; a token looks like T20261121000001")
    if await intake_of(request).store.get(token) is None:
        raise Open311Error(404, f"no token {token}")
    return render(
        fmt, "service_requests", "request", [{"service_request_id": token, "token": token}]
    )


@router.get("/requests.{fmt}", summary="Search service requests", responses=documented(400, 404))
async def list_requests(
    fmt: Fmt,
    request: Request,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> Response:
    intake = intake_of(request)
    ids = present(service_request_id)
    if ids:  # a list of ids overrides every other filter
        wanted = list(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
        if len(wanted) > MAX_IDS:
            raise Open311Error(
                400, f"service_request_id takes at most {MAX_IDS} ids; ask in batches"
            )
        if not all(is_ticket_id(wanted_id) for wanted_id in wanted):
            raise Open311Error(400, NOT_AN_ID)
        records = await intake.store.get_many(wanted)
        return render(fmt, "service_requests", "request", await _rows(intake, records))
    now = intake.clock.now()
    end = parse_date("end_date", end_date) or now
    start = parse_date("start_date", start_date) or end - MAX_WINDOW
    if end - start > MAX_WINDOW:
        raise Open311Error(400, "start_date and end_date may be at most 90 days apart")
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    statuses = {s.strip() for s in (present(status) or "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status is open or closed")
    codes = {c.strip() for c in (present(service_code) or "").split(",") if c.strip()}
    rows: list[Row] = []
    wanted_codes: list[str | None] = [*sorted(codes)] or [None]
    for code in wanted_codes:
        page = await search(
            intake.store.redis,
            intake.store,
            Filters(category=code, since=start, until=end),
            MAX_RESULTS,
        )
        rows += await _rows(intake, page.items)
    if statuses:
        rows = [row for row in rows if row["status"] in statuses]
    rows.sort(key=lambda row: row["requested_datetime"], reverse=True)
    return render(fmt, "service_requests", "request", rows[:MAX_RESULTS])


@router.get(
    "/requests/{request_id}.{fmt}",
    summary="One service request (a list of one)",
    responses=documented(404),
)
async def get_request(request_id: str, fmt: Fmt, request: Request) -> Response:
    intake = intake_of(request)
    if not is_ticket_id(request_id):
        raise Open311Error(404, NOT_AN_ID)
    record = await intake.store.get(request_id)
    if record is None:
        raise Open311Error(404, f"no service_request_id {request_id}")
    return render(fmt, "service_requests", "request", await _rows(intake, [record]))


@router.get(
    "/servicerequestupdates.{fmt}",
    summary="Status updates since a time (mySociety)",
    responses=documented(400, 404),
)
async def updates(
    fmt: Fmt,
    request: Request,
    start_date: str | None = None,
    end_date: str | None = None,
) -> Response:
    intake = intake_of(request)
    end = parse_date("end_date", end_date) or intake.clock.now()
    start = parse_date("start_date", start_date) or end - timedelta(days=1)
    if end - start > MAX_WINDOW:
        raise Open311Error(400, "start_date and end_date may be at most 90 days apart")
    changed = cast(
        "list[bytes]",
        await intake.store.redis.zrangebyscore(
            indexes.UPDATED, start.timestamp(), "+inf", start=0, num=MAX_RESULTS
        ),
    )
    records = await intake.store.get_many([t.decode() for t in changed])
    rows: list[Row] = []
    for record in records:
        closed = is_closed(record)
        for entry in record.history:
            if not start <= entry.at <= end:
                continue
            # Only what is public: status changes, sign-offs, notes marked public.
            if (public := public_update(record, entry)) is None:
                continue
            description, media_url, _ = public
            rows.append(
                {
                    "update_id": entry.event_id,
                    "service_request_id": record.ticket_id,
                    "status": "closed" if closed else "open",
                    "updated_datetime": w3c(entry.at),
                    "description": description,
                    "media_url": media_url,
                }
            )
    rows.sort(key=lambda row: row["updated_datetime"])
    return render(fmt, "service_request_updates", "request_update", rows[:MAX_RESULTS])
