"""Open311 GeoReport v2 under /open311/v2/, so existing 311 clients work unchanged.

Both .json and .xml; errors are a list of {code, description} with 400 / 403 / 404;
an empty parameter counts as absent. Also the mySociety `servicerequestupdates` extension.

Reads need no key and are public (docs/intake.md, "What is public"): status, category,
the responsible unit, the times, a location rounded to about 100 m, sign-offs and notes a
unit marked public. Never the resident's words, address, photos or contact, and never a
unit's internal notes. Lists are capped (MAX_IDS, MAX_RESULTS).
"""

from datetime import UTC, datetime, timedelta
from typing import Any, cast
from xml.etree import ElementTree

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from chuishao.common.catalogue import Category
from chuishao.common.commands import SubmitReport
from chuishao.common.domain import Channel, xml_text
from chuishao.common.ids import is_ticket_id
from chuishao.common.privacy import mask_text
from chuishao.intake import indexes, resolutions
from chuishao.intake.attributes import InvalidAttribute
from chuishao.intake.lifecycle import Status
from chuishao.intake.public import STATUS_NOTES, public_update
from chuishao.intake.records import TicketRecord
from chuishao.intake.search import Filters, search
from chuishao.intake.service import CatalogueNotLoaded, Intake, UnknownCategory


def _documented(*codes: int, created: bool = False) -> dict[int | str, dict[str, Any]]:
    """Open311 answers lists in JSON or XML; errors are lists of {code, description}."""
    error_list = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["code", "description"],
            "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        },
    }
    xml = {"text/xml": {"schema": {"type": "string"}}}
    documented: dict[int | str, dict[str, Any]] = {
        201 if created else 200: {
            "description": "JSON or XML, as the extension asks",
            "content": {"application/json": {"schema": {}}, **xml},
        },
    }
    for code in (*codes, 503):
        documented[code] = {
            "description": "A list of errors",
            "content": {"application/json": {"schema": error_list}, **xml},
        }
    return documented


router = APIRouter(prefix="/open311/v2", tags=["open311"], default_response_class=Response)
MAX_WINDOW = timedelta(days=90)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
NOT_AN_ID = "service_request_id is not a request id such as T20261121000001"
# Caps on what one read returns, so nobody pulls the whole register in one request.
MAX_IDS = 50  # ids in one service_request_id=
MAX_RESULTS = 200  # rows in one list; narrow start_date/end_date for more
# Public coordinates are rounded to 3 decimals: about 111 m of latitude, 85 m of
# longitude at Beijing's latitude — the block, not the door.
COARSE_DIGITS = 3


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


Row = dict[str, Any]


def _xml(root: str, item: str, rows: list[Row]) -> bytes:
    top = ElementTree.Element(root)
    for row in rows:
        element = ElementTree.SubElement(top, item)
        _fill(element, row)
    body: bytes = ElementTree.tostring(top, encoding="utf-8", xml_declaration=True)
    return body


def _fill(element: ElementTree.Element, row: Row) -> None:
    for key, value in row.items():
        child = ElementTree.SubElement(element, key)
        if isinstance(value, list):
            singular = {"attributes": "attribute", "values": "value"}.get(key, "item")
            for entry in value:
                _fill(ElementTree.SubElement(child, singular), entry)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            # Whatever a record holds, the document stays well-formed: a character XML
            # cannot carry (NUL, other controls) is written as U+FFFD.
            child.text = xml_text(str(value))


def render(fmt: str, root: str, item: str, rows: list[Row], status_code: int = 200) -> Response:
    if fmt == "xml":
        return Response(_xml(root, item, rows), status_code, media_type="text/xml; charset=utf-8")
    return Response(orjson.dumps(rows), status_code, media_type="application/json")


def render_one(fmt: str, root: str, row: Row) -> Response:
    if fmt == "xml":
        element = ElementTree.Element(root)
        _fill(element, row)
        body: bytes = ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)
        return Response(body, 200, media_type="text/xml; charset=utf-8")
    return Response(orjson.dumps(row), 200, media_type="application/json")


def errors(fmt: str, code: int, description: str) -> Response:
    return render(fmt, "errors", "error", [{"code": code, "description": description}], code)


def _fmt(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise Open311Error(404, f"unknown format .{fmt}; use .json or .xml")
    return fmt


def _present(value: str | None) -> str | None:
    """An empty parameter counts as absent."""
    return value if value not in (None, "") else None


def _w3c(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _parse_date(name: str, value: str | None) -> datetime | None:
    if (value := _present(value)) is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise Open311Error(
            400, f"{name} must be a W3C datetime, e.g. 2026-11-21T08:00:00Z"
        ) from error
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    # 0001-01-01 minus the 90-day window overflows: only dates this service can hold.
    if not EARLIEST <= moment <= LATEST:
        raise Open311Error(400, f"{name} must be between 2000-01-01 and 2099-12-31")
    return moment


def service_row(category: Category) -> Row:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": ",".join(category.keywords),
        "group": category.group,
    }


def definition_row(category: Category) -> Row:
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": attribute.code,
                "datatype": attribute.datatype,
                "required": attribute.required,
                "datatype_description": attribute.datatype_description,
                "order": attribute.order,
                "description": attribute.description,
                "values": [{"key": key, "name": name} for key, name in attribute.values],
            }
            for attribute in category.attributes
        ],
    }


def request_row(record: TicketRecord, catalogue_name: str | None) -> Row:
    closed = record.status in (Status.RESOLVED, Status.CLOSED)
    lead = next((a for a in record.active_assignments if a.role == "lead"), None)
    return {
        "service_request_id": record.ticket_id,
        "status": "closed" if closed else "open",
        # Units' sign-off notes are public, but the record keeps them whole: a number or
        # a surname typed into one is masked here like in any broadcast event.
        "status_notes": mask_text(resolutions.status_notes(record, STATUS_NOTES[record.status])),
        "service_name": catalogue_name,
        "service_code": record.category,
        # The resident's own words, address and photos may name people, doors and cars:
        # the public row leaves them out (the fields stay, empty, for clients that expect
        # them). Units read them on the native API.
        "description": None,
        "agency_responsible": lead.unit_name if lead else None,
        "service_notice": None,
        "requested_datetime": _w3c(record.submitted_at),
        "updated_datetime": _w3c(record.updated_at),
        "expected_datetime": _w3c(record.deadline) if not closed else None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": _coarse(record.location.lat),
        "long": _coarse(record.location.long),
        "media_url": None,
    }


def _coarse(degrees: float | None) -> float | None:
    return round(degrees, COARSE_DIGITS) if degrees is not None else None


def intake_of(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def _name_of(intake: Intake, code: str | None) -> str | None:
    category = intake.catalogue.get(code) if code else None
    return category.name if category else None


@router.get(
    "/services.{fmt}", summary="List the service types (categories)", responses=_documented(404)
)
async def services(fmt: str, request: Request) -> Response:
    try:
        fmt = _fmt(fmt)
    except Open311Error as error:
        return errors("json", error.code, error.description)
    rows = [service_row(category) for category in intake_of(request).catalogue.all()]
    return render(fmt, "services", "service", rows)


@router.get(
    "/services/{code}.{fmt}",
    summary="A service type's attribute definitions",
    responses=_documented(404),
)
async def service_definition(code: str, fmt: str, request: Request) -> Response:
    try:
        fmt = _fmt(fmt)
    except Open311Error as error:
        return errors("json", error.code, error.description)
    category = intake_of(request).catalogue.get(code)
    if category is None:
        return errors(fmt, 404, f"no service_code {code}")
    return render_one(fmt, "service_definition", definition_row(category))


def _attributes(form: Any) -> dict[str, str | list[str]]:
    answers: dict[str, str | list[str]] = {}
    for key, value in form.multi_items():
        if not key.startswith("attribute[") or value in ("", None):
            continue
        code = key[len("attribute[") :].split("]", 1)[0]
        if key.endswith("[]"):
            existing = answers.setdefault(code, [])
            assert isinstance(existing, list)
            existing.append(str(value))
        else:
            answers[code] = str(value)
    return answers


def _report_from_form(form: Any) -> SubmitReport:
    def field(name: str) -> str | None:
        value = form.get(name)
        return _present(value if isinstance(value, str) else None)

    code = field("service_code")
    if code is None:
        raise Open311Error(400, "service_code is required")
    lat, long_ = field("lat"), field("long")
    address = field("address_string")
    if field("address_id") and not address:
        address = f"address_id:{field('address_id')}"
    if (lat is None) != (long_ is None):
        raise Open311Error(400, "lat and long must be given together")
    if lat is None and address is None:
        raise Open311Error(400, "give a location: lat and long, address_string or address_id")
    names = [n for n in (field("last_name"), field("first_name")) if n]
    reporter = {
        key: value
        for key, value in (
            ("name", "".join(names) or None),
            ("phone", field("phone")),
            ("email", field("email")),
        )
        if value
    }
    payload: dict[str, Any] = {
        "category": code,
        "description": field("description") or "(no description)",
        "location": {k: v for k, v in (("lat", lat), ("long", long_), ("address", address)) if v},
        "channel": Channel.OPEN311,
        "media_urls": [field("media_url")] if field("media_url") else [],
        "reporter": reporter or None,
        "attributes": _attributes(form),
    }
    try:
        return SubmitReport.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Open311Error(400, f"{where}: {first['msg']}") from error


@router.post(
    "/requests.{fmt}",
    summary="Create a service request (form-encoded)",
    status_code=201,
    responses=_documented(400, 403, 404, created=True),
)
async def create_request(fmt: str, request: Request) -> Response:
    try:
        fmt = _fmt(fmt)
    except Open311Error as error:
        return errors("json", error.code, error.description)
    intake = intake_of(request)
    form = await request.form()
    in_body = form.get("api_key")
    api_key = _present(in_body if isinstance(in_body, str) else None)
    api_key = api_key or _present(request.query_params.get("api_key"))
    if intake.keys.open311_client(api_key) is None:
        return errors(fmt, 403, "api_key is missing or not valid")
    try:
        command = _report_from_form(form)
        result = await intake.submit(command)
    except Open311Error as error:
        return errors(fmt, error.code, error.description)
    except UnknownCategory as error:
        return errors(fmt, 404, f"no service_code {error}")
    except InvalidAttribute as error:
        return errors(fmt, 400, f"attribute[{error.code}]: {error}")
    except CatalogueNotLoaded as error:
        return errors(fmt, 503, str(error))
    row = {"service_request_id": result.ticket_id, "service_notice": "", "account_id": None}
    return render(fmt, "service_requests", "request", [row], 201)


@router.get(
    "/tokens/{token}.{fmt}", summary="The request id behind a token", responses=_documented(404)
)
async def token(token: str, fmt: str, request: Request) -> Response:
    try:
        fmt = _fmt(fmt)
    except Open311Error as error:
        return errors("json", error.code, error.description)
    # Requests get their id at once, so a token is the id itself.
    if not is_ticket_id(token):
        return errors(fmt, 404, "no such token; a token looks like T20261121000001")
    if await intake_of(request).store.get(token) is None:
        return errors(fmt, 404, f"no token {token}")
    return render(
        fmt, "service_requests", "request", [{"service_request_id": token, "token": token}]
    )


async def _rows(intake: Intake, records: list[TicketRecord]) -> list[Row]:
    return [request_row(r, _name_of(intake, r.category)) for r in records]


@router.get("/requests.{fmt}", summary="Search service requests", responses=_documented(400, 404))
async def list_requests(
    fmt: str,
    request: Request,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> Response:
    intake = intake_of(request)
    try:
        fmt = _fmt(fmt)
        ids = _present(service_request_id)
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
        end = _parse_date("end_date", end_date) or now
        start = _parse_date("start_date", start_date) or end - MAX_WINDOW
        if end - start > MAX_WINDOW:
            raise Open311Error(400, "start_date and end_date may be at most 90 days apart")
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        statuses = {s.strip() for s in (_present(status) or "").split(",") if s.strip()}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status is open or closed")
        codes = {c.strip() for c in (_present(service_code) or "").split(",") if c.strip()}
    except Open311Error as error:
        return errors(fmt if fmt in ("json", "xml") else "json", error.code, error.description)
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
    responses=_documented(404),
)
async def get_request(request_id: str, fmt: str, request: Request) -> Response:
    try:
        fmt = _fmt(fmt)
    except Open311Error as error:
        return errors("json", error.code, error.description)
    intake = intake_of(request)
    if not is_ticket_id(request_id):
        return errors(fmt, 404, NOT_AN_ID)
    record = await intake.store.get(request_id)
    if record is None:
        return errors(fmt, 404, f"no service_request_id {request_id}")
    return render(fmt, "service_requests", "request", await _rows(intake, [record]))


@router.get(
    "/servicerequestupdates.{fmt}",
    summary="Status updates since a time (mySociety)",
    responses=_documented(400, 404),
)
async def updates(
    fmt: str,
    request: Request,
    start_date: str | None = None,
    end_date: str | None = None,
) -> Response:
    intake = intake_of(request)
    try:
        fmt = _fmt(fmt)
        end = _parse_date("end_date", end_date) or intake.clock.now()
        start = _parse_date("start_date", start_date) or end - timedelta(days=1)
        if end - start > MAX_WINDOW:
            raise Open311Error(400, "start_date and end_date may be at most 90 days apart")
    except Open311Error as error:
        return errors(fmt if fmt in ("json", "xml") else "json", error.code, error.description)
    changed = cast(
        "list[bytes]",
        await intake.store.redis.zrangebyscore(
            indexes.UPDATED, start.timestamp(), "+inf", start=0, num=MAX_RESULTS
        ),
    )
    records = await intake.store.get_many([t.decode() for t in changed])
    rows: list[Row] = []
    for record in records:
        closed = record.status in (Status.RESOLVED, Status.CLOSED)
        for entry in record.history:
            if not start <= entry.at <= end:
                continue
            # Only what is public: status changes, sign-offs, notes marked public.
            if (public := public_update(record, entry)) is None:
                continue
            description, media_url = public
            rows.append(
                {
                    "update_id": entry.event_id,
                    "service_request_id": record.ticket_id,
                    "status": "closed" if closed else "open",
                    "updated_datetime": _w3c(entry.at),
                    "description": description,
                    "media_url": media_url,
                }
            )
    rows.sort(key=lambda row: row["updated_datetime"])
    return render(fmt, "service_request_updates", "request_update", rows[:MAX_RESULTS])
