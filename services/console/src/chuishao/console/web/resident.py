"""The residents' pages: no account, phone first.

    GET  /r                              report a problem (category, words, photos, a pin)
    POST /r                              file it through intake (channel snap_it)
    GET  /r/<ticket>?t=<token>           its progress: the link in every SMS
    POST /r/<ticket>/reply               answer the unit's question (text and photos)
    POST /r/<ticket>/rating              满意 / 基本满意 / 不满意, with a comment
    GET  /r/<ticket>/photos/<photo>?t=   a photo of it, proxied

Every call to intake is the resident's own: a new report as an anonymous sender, their
ticket with their link token, which intake checks and which opens that ticket and nothing
else (a token for ticket X on ticket Y is intake's 403). The console keeps nothing; a
double tap on 提交 repeats the form's Idempotency-Key, so intake files the report once.
"""

import re
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.datastructures import FormData, UploadFile

from chuishao.common.domain import RATING_LABELS
from chuishao.common.photos import is_photo_id, photo_in
from chuishao.common.status import Status
from chuishao.console.auth import check_csrf, console_of
from chuishao.console.intake_client import IntakeClient, IntakeError
from chuishao.console.map import Pin, svg_map
from chuishao.console.web import templates
from chuishao.console.web.photos import TICKET_ID, not_found, proxied, read_photo
from chuishao.console.web.wording import STATUSES, clock_time, until

router = APIRouter(prefix="/r")
MAX_PHOTOS = 9
# Optional here so that a link cut short (no ?t=, or an empty one: SMS apps clip long
# links) gets the resident's words "链接无效" rather than a form error or intake's
# message about API keys (_link_token).
TOKEN = Annotated[str, Query(alias="t", max_length=128)]
# What a resident reads for each step of their ticket (intake's fixed public lines have
# these types); a unit's own words (a sign-off, a public note) are shown as they are.
STEPS = {
    "TicketSubmitted": "您的反映已受理",
    "TicketNeedsManualDispatch": "已受理，街道指挥中心正在指派处理单位",
    "TicketDispatched": "已派给负责的单位",
    "TicketAcknowledged": "负责单位已签收，正在安排处置",
    "TicketTransferred": "已转给更合适的单位办理",
    "TicketAwaitingResident": "处理单位需要您补充情况，请在下方回复",
    "TicketResidentReplied": "您已回复，处理继续",
    "TicketRecategorised": "问题类别已调整",
    "TicketResolved": "已办结，请您评价",
    "TicketReopened": "已按您的评价重新办理",
    "TicketClosed": "已结案",
}
RESIDENT_STATUS = {**STATUSES, Status.AWAITING_RESIDENT: "待您补充"}
RATINGS = [label for label in RATING_LABELS if re.fullmatch(r"[\u4e00-\u9fff]+", label)]


@dataclass(frozen=True)
class FormProblem(Exception):
    """Something to fix in the report form: said next to the form, nothing filed."""

    message: str
    field: str | None = None


# --- the report form


def _form_context(
    request: Request, values: dict[str, str], problem: FormProblem | None
) -> dict[str, Any]:
    console = console_of(request)
    point = _point(values)
    pins = [Pin(point[1], point[0], "问题位置")] if point else []
    return {
        "groups": console.category_groups(),
        "values": values,
        "problem": problem,
        "idempotency_key": values.get("idempotency_key") or secrets.token_urlsafe(18),
        "map": svg_map(console.places.all(), pins, title="点选问题所在位置", picker=True),
        "max_photos": MAX_PHOTOS,
    }


@router.get("")
async def report_form(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "resident/report.html", _form_context(request, {}, None)
    )


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _point(values: dict[str, str]) -> tuple[float, float] | None:
    try:
        lat, long = float(values["lat"]), float(values["long"])
    except (KeyError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= long <= 180):  # also refuses NaN
        return None
    return lat, long


def _report(values: dict[str, str]) -> dict[str, Any]:
    """The SubmitReport intake takes, or a FormProblem."""
    if not values["description"]:
        raise FormProblem("请描述一下遇到的问题", "description")
    location: dict[str, Any] = {}
    if (point := _point(values)) is not None:
        location["lat"], location["long"] = point
    if values["address"]:
        location["address"] = values["address"]
    if not location:
        raise FormProblem("请在地图上点选位置，或填写地址", "address")
    report: dict[str, Any] = {
        "description": values["description"],
        "location": location,
        "channel": "snap_it",
    }
    if values["category"]:
        report["category"] = values["category"]
    if values["phone"]:
        report["reporter"] = {"phone": values["phone"]}
    return report


async def _photos(form: FormData) -> list[tuple[str, bytes]]:
    uploads = [u for u in form.getlist("photos") if isinstance(u, UploadFile) and u.filename]
    if len(uploads) > MAX_PHOTOS:
        raise FormProblem(f"最多上传 {MAX_PHOTOS} 张照片", "photos")
    return [(u.filename or "photo", await read_photo(u)) for u in uploads]


async def _upload(
    intake: IntakeClient, ticket_id: str, token: str, photo: tuple[str, bytes]
) -> None:
    """One of the resident's photos into intake's photo store, with their token."""
    name, data = photo
    await intake.as_resident(
        "POST",
        f"/api/v1/tickets/{ticket_id}/photos",
        token,
        files={"photo": (name, data, "application/octet-stream")},
        data={"purpose": "report"},
    )


def _field_problem(error: IntakeError) -> FormProblem:
    field = (error.field or "").split(".")[0]
    named = {"reporter": "phone", "location": "address"}.get(field, field)
    return FormProblem(error.message_zh, named or None)


@router.post("", dependencies=[Depends(check_csrf)])
async def report(request: Request) -> Response:
    form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=20)
    values = {
        "category": _text(form, "category", 64),
        "description": _text(form, "description", 4000),
        "address": _text(form, "address", 500),
        "phone": _text(form, "phone", 32),
        "lat": _text(form, "lat", 32),
        "long": _text(form, "long", 32),
        "idempotency_key": _text(form, "idempotency_key", 64),
    }
    intake = console_of(request).intake
    try:
        body = _report(values)
        photos = await _photos(form)
        accepted = await intake.submit_report(body, values["idempotency_key"] or None)
    except FormProblem as problem:
        return _form_again(request, values, problem)
    except IntakeError as error:
        if error.status in (400, 422):
            return _form_again(request, values, _field_problem(error))
        raise
    finally:
        await form.close()
    ticket_id, token = accepted.body["ticket_id"], accepted.body["resident_token"]
    failed = 0
    if accepted.created:  # a repeat of the same form: its photos went with the first
        for photo in photos:
            try:
                await _upload(intake, ticket_id, token, photo)
            except IntakeError:
                failed += 1  # the report stands; the page says which did not arrive
    query = {"t": token, "new": "1", **({"failed": str(failed)} if failed else {})}
    return RedirectResponse(f"/r/{ticket_id}?{urlencode(query)}", status_code=303)


def _form_again(request: Request, values: dict[str, str], problem: FormProblem) -> Response:
    return templates.TemplateResponse(
        request, "resident/report.html", _form_context(request, values, problem), status_code=422
    )


@router.get("/duplicate-check")
async def duplicate_check(
    request: Request,
    category: Annotated[str, Query(pattern=r"^[a-z0-9_]{1,64}$")],
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    long: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
) -> JSONResponse:
    """For the form's script: would this report join one already made ("已有人反映")?"""
    answer = await console_of(request).intake.as_resident(
        "GET",
        "/api/v1/reports/duplicate-check",
        None,
        params={"category": category, "lat": lat, "long": long},
    )
    return JSONResponse(answer)


# --- the ticket's page


def _link_token(token: str) -> str:
    """The ticket link's token; a missing one is an invalid link, said as to a resident."""
    if not token.strip():
        raise IntakeError(403, "invalid_link", "这个链接无效或不完整，请打开短信里的完整链接")
    return token


def _checked(ticket_id: str) -> str:
    if not TICKET_ID.match(ticket_id):
        raise IntakeError(404, "not_found", "没有找到这张工单，请打开短信里的链接")
    return ticket_id


def _photo_src(ticket_id: str, token: str, url: str | None, *, thumb: bool = False) -> str | None:
    """The console's URL of a photo on the resident's link (intake signs each with the
    token; the console passes it on), or the URL as it is when it is not intake's."""
    if not url:
        return None
    found = photo_in(url)
    if found is None:
        return url
    query = {"t": token, **({"thumb": "1"} if thumb else {})}
    return f"/r/{ticket_id}/photos/{found[1]}?{urlencode(query)}"


def _page_context(ticket: dict[str, Any], token: str, now: Any) -> dict[str, Any]:
    ticket_id = ticket["ticket_id"]
    status = Status(ticket["status"])
    steps = [
        {
            "at": clock_time(entry["at"]),
            "text": entry["text"]
            if entry.get("in_own_words")
            else STEPS.get(entry.get("type", ""), entry["text"]),
            "photo": _photo_src(ticket_id, token, entry.get("media_url"), thumb=True),
            "full": _photo_src(ticket_id, token, entry.get("media_url")),
        }
        for entry in ticket["timeline"]
    ]
    photos = [
        {
            "purpose": photo["purpose"],
            "thumb": _photo_src(ticket_id, token, photo["url"], thumb=True),
            "full": _photo_src(ticket_id, token, photo["url"]),
        }
        for photo in ticket.get("photos", [])
    ]
    return {
        "ticket": ticket,
        "token": token,
        "status": RESIDENT_STATUS.get(status, status.value),
        "status_code": status.value,
        "steps": list(reversed(steps)),
        "units": ticket.get("units", []),
        "deadline": until(ticket.get("deadline"), now)
        if status not in (Status.RESOLVED, Status.CLOSED)
        else "",
        "report_photos": [p for p in photos if p["purpose"] == "report"],
        "evidence_photos": [p for p in photos if p["purpose"] == "evidence"],
        "can_reply": status == Status.AWAITING_RESIDENT,
        "can_rate": status == Status.RESOLVED and ticket.get("rating") is None,
        "ratings": RATINGS,
        "max_photos": MAX_PHOTOS,
    }


@router.get("/{ticket_id}")
async def ticket_page(
    request: Request,
    ticket_id: str,
    t: TOKEN = "",
    done: Annotated[str, Query(max_length=16)] = "",
    failed: Annotated[int, Query(ge=0, le=MAX_PHOTOS)] = 0,
    new: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    console = console_of(request)
    t = _link_token(t)
    ticket = await console.intake.as_resident("GET", f"/api/v1/tickets/{_checked(ticket_id)}", t)
    context = _page_context(ticket, t, console.clock.now())
    context.update(done=done, failed=failed, new=bool(new))
    return templates.TemplateResponse(request, "resident/ticket.html", context)


def _back(ticket_id: str, token: str, done: str) -> Response:
    return RedirectResponse(
        f"/r/{ticket_id}?{urlencode({'t': token, 'done': done})}", status_code=303
    )


@router.post("/{ticket_id}/rating", dependencies=[Depends(check_csrf)])
async def rate(request: Request, ticket_id: str) -> Response:
    form = await request.form(max_fields=8)
    token = _link_token(_text(form, "t", 128))
    rating = _text(form, "rating", 16)
    if rating not in RATINGS:
        raise IntakeError(422, "rating_required", "请选择 满意、基本满意 或 不满意")
    await console_of(request).intake.as_resident(
        "POST",
        f"/api/v1/tickets/{_checked(ticket_id)}/rating",
        token,
        json={"rating": rating, "comment": _text(form, "comment", 2000)},
    )
    return _back(ticket_id, token, "rated")


@router.post("/{ticket_id}/reply", dependencies=[Depends(check_csrf)])
async def reply(request: Request, ticket_id: str) -> Response:
    form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=8)
    try:
        token = _link_token(_text(form, "t", 128))
        note = _text(form, "note", 2000)
        try:
            photos = await _photos(form)
        except FormProblem as problem:
            raise IntakeError(422, "too_many_photos", problem.message) from problem
        if not note and not photos:
            raise IntakeError(422, "reply_required", "请写下您的回复或附上照片")
    finally:
        await form.close()
    intake = console_of(request).intake
    for photo in photos:  # first, so the unit sees them when the reply arrives
        await _upload(intake, _checked(ticket_id), token, photo)
    await intake.as_resident(
        "POST",
        f"/api/v1/tickets/{_checked(ticket_id)}/resident-replies",
        token,
        json={"note": note},
    )
    return _back(ticket_id, token, "replied")


@router.get("/{ticket_id}/photos/{photo_id}")
async def photo(
    request: Request, ticket_id: str, photo_id: str, t: TOKEN = "", thumb: bool = False
) -> Response:
    if not TICKET_ID.match(ticket_id) or not is_photo_id(photo_id):
        raise not_found()
    t = _link_token(t)
    return await proxied(
        console_of(request).intake.resident_raw(
            f"/api/v1/tickets/{ticket_id}/photos/{photo_id}", t, {"thumb": "1"} if thumb else {}
        )
    )
