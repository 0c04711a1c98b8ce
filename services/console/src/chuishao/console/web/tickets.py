"""A ticket's page (/tickets/<id>) and the clerk's actions on it, as forms.

Everything is read from and done through intake as the person at the screen: intake
checks the state and the scope, the console only shows its answer. A refusal (wrong
state, not the unit's part, a bad field) comes back on the same page as intake's Chinese
message with intake's status — never a 500. A ticket the person may not know of is the
same 404 page as a ticket that does not exist, for reading and for every action alike,
so ids cannot be probed.
"""

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from chuishao.common.domain import ClockKind, DeclineReason, Level, Location, Role, Whistle
from chuishao.common.errors import ApiError
from chuishao.common.roles import PersonRole
from chuishao.common.status import Status
from chuishao.console.audit import audit
from chuishao.console.auth import Clerk, Person, check_csrf, console_of, require
from chuishao.console.intake_client import IntakeError
from chuishao.console.map import Pin, svg_map, where
from chuishao.console.service import Console
from chuishao.console.web import templates
from chuishao.console.web.appeal_lines import ticket_context as appeal_context
from chuishao.console.web.clerk import own_part, place_of
from chuishao.console.web.photos import photo_src, upload_evidence
from chuishao.console.web.wording import (
    CHANNELS,
    CLOCKS,
    DECLINE_REASONS,
    LEVELS,
    ROLES,
    STATUSES,
    WHISTLES,
    clock_time,
    history_line,
    iso,
    parse_time,
    person_of,
    until,
)

router = APIRouter()
# Who may open a ticket page: everyone who works on tickets (intake decides which ones).
Reader = Annotated[
    Person,
    Depends(
        require(
            PersonRole.CLERK,
            PersonRole.COMMAND_CENTRE,
            PersonRole.DISTRICT,
            PersonRole.CITY,
            PersonRole.OPERATOR,
        )
    ),
]
TICKET_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_EVIDENCE = 9

# What each action is called on the page, and the notice after it succeeded.
DONE = {
    "acknowledge": "已签收，工单进入办理中",
    "decline": "已退单，工单将重新派发",
    "notes": "进展已记录",
    "extension-requests": "延期申请已提交，等待指挥中心审批",
    "transfer": "已转办",
    "resolve": "已办结，证据照片已提交",
    "appeals": "申诉已提交，等待区级审核",
}


@dataclass(frozen=True)
class ClockLine:
    label: str
    who: str
    deadline_at: str
    deadline_iso: str
    left: str
    late: bool


@dataclass(frozen=True)
class UnitLine:
    name: str
    role: str
    whistle: str
    reported: str  # 已签收 12月2日 21:05 / 未签收
    signed_off: str
    active: bool
    own: bool


@dataclass(frozen=True)
class HistoryLine:
    at: str
    text: str
    person: str | None


def not_found(request: Request) -> Response:
    """The one answer for a missing ticket and for another unit's ticket."""
    return templates.TemplateResponse(request, "ticket/not_found.html", {}, status_code=404)


def path_of(ticket_id: str) -> str:
    return f"/api/v1/tickets/{quote(ticket_id, safe='')}"


def _clock_line(console: Console, clock: dict[str, Any], now: Any) -> ClockLine:
    deadline = parse_time(clock["deadline"])
    kind = clock["clock"]
    label = CLOCKS.get(ClockKind(kind), kind) if kind in set(ClockKind) else kind
    unit = clock.get("unit_id")
    level = LEVELS.get(Level(clock["level"]), "") if clock.get("level") in set(Level) else ""
    return ClockLine(
        label=label,
        who=console.unit_name(unit) if unit else f"整张工单（{level}级）",
        deadline_at=clock_time(deadline),
        deadline_iso=iso(deadline),
        left=until(deadline, now),
        late=deadline is not None and deadline < now,
    )


def _unit_line(console: Console, part: dict[str, Any], own_unit: str | None) -> UnitLine:
    acknowledged, signed = part.get("acknowledged_at"), part.get("signed_off_at")
    role, whistle = part.get("role"), part.get("whistle")
    return UnitLine(
        name=part.get("unit_name") or console.unit_name(part["unit_id"]),
        role=ROLES.get(Role(role), "") if role in set(Role) else "",
        whistle=WHISTLES.get(Whistle(whistle), "") if whistle in set(Whistle) else "",
        reported=f"已签收 {clock_time(acknowledged)}" if acknowledged else "未签收",
        signed_off=f"已办结 {clock_time(signed)}" if signed else "",
        active=bool(part.get("active")),
        own=part["unit_id"] == own_unit,
    )


def page_context(console: Console, person: Person, ticket: dict[str, Any]) -> dict[str, Any]:
    now = console.clock.now()
    places = console.places.all()
    location = Location.model_validate(ticket["location"])
    point = where(location, places)
    part = own_part(ticket, person.unit) if person.role == PersonRole.CLERK else None
    status = ticket["status"]
    working = status in (Status.DISPATCHED, Status.IN_PROGRESS, Status.AWAITING_RESIDENT)
    resolution = ticket.get("resolution") or {}
    evidence = [
        url
        for sign_off in ticket.get("sign_offs", []) + resolution.get("sign_offs", [])
        for url in sign_off.get("evidence_urls", [])
    ]
    return {
        "ticket": ticket,
        "category": console.category_name(ticket.get("category")),
        "status_name": STATUSES.get(Status(status), status),
        "place": place_of(console, ticket),
        "address": location.address,
        "submitted_at": clock_time(ticket.get("submitted_at")),
        "map": svg_map(
            places,
            [Pin(point[0], point[1], ticket["ticket_id"])] if point else [],
            street=ticket.get("street"),
            title=f"工单 {ticket['ticket_id']} 的位置",
        ),
        "pinned": point is not None,
        # (the full photo, its thumbnail) for each
        "photos": [
            (photo_src(url), photo_src(url, thumb=True))
            for url in ticket.get("media_urls", [])
            if url not in evidence
        ],
        "evidence": [
            (photo_src(url), photo_src(url, thumb=True)) for url in dict.fromkeys(evidence)
        ],
        "clocks": [_clock_line(console, c, now) for c in ticket.get("clocks", [])],
        "units": [
            _unit_line(console, a, person.unit)
            for a in ticket.get("assignments", [])
            if a.get("role") != Role.SUPERVISOR
        ],
        "history": [
            HistoryLine(clock_time(e["at"]), history_line(e, console.unit_name), person_of(e))
            for e in reversed(ticket.get("history", []))
            # Deliveries are noise to a clerk; the clocks have their own table above.
            if e.get("type") not in ("UnitNotified", "SlaClockArmed")
        ],
        "part": part,
        "may_acknowledge": bool(part and working and not part.get("acknowledged_at")),
        "may_work": bool(part and working and not part.get("signed_off_at")),
        # Intake lets a unit sign off once every summoned unit reported (in progress).
        "may_resolve": bool(
            part
            and status == Status.IN_PROGRESS
            and part.get("acknowledged_at")
            and not part.get("signed_off_at")
        ),
        "acknowledged": bool(part and working and part.get("acknowledged_at")),
        "others_pending": bool(
            part and part.get("acknowledged_at") and status == Status.DISPATCHED
        ),
        "reasons": list(DECLINE_REASONS.items()),
        "transfer_to": sorted(
            (
                (u.id, u.name)
                for u in console.units.all()
                if u.id != person.unit and u.kind not in ("command_centre", "district")
            ),
            key=lambda pair: pair[1],
        ),
        "max_evidence": MAX_EVIDENCE,
        "channel": CHANNELS.get(ticket.get("channel", ""), ticket.get("channel", "")),
        "report_clock": next(
            (
                _clock_line(console, c, now)
                for c in ticket.get("clocks", [])
                if c["clock"] == ClockKind.REPORT_FOR_DUTY and c.get("unit_id") == person.unit
            ),
            None,
        ),
    }


async def render(
    request: Request,
    person: Person,
    ticket_id: str,
    *,
    error: IntakeError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    """The ticket page; with `error`, intake's refusal of the action just tried, shown at
    the top with intake's status (409 wrong state, 422 a bad field …)."""
    console = console_of(request)
    if not TICKET_ID.match(ticket_id):
        return not_found(request)
    try:
        ticket = await console.intake.get(path_of(ticket_id), person)
    except IntakeError as refused:
        if refused.status == 404:
            return not_found(request)
        raise
    context = page_context(console, person, ticket) | appeal_context(console, person, ticket)
    done = request.query_params.get("done")
    context |= {
        "error": error,
        "form": form or {},
        "done": DONE.get(done or "") if error is None else None,
    }
    status = error.status if error is not None else 200
    return templates.TemplateResponse(request, "ticket/page.html", context, status_code=status)


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def ticket_page(request: Request, ticket_id: str, person: Reader) -> Response:
    return await render(request, person, ticket_id)


async def act(
    request: Request,
    person: Person,
    ticket_id: str,
    verb: str,
    body: dict[str, Any],
    form: dict[str, str],
) -> Response:
    """Send one command to intake as the person; back to the page with its outcome."""
    if not TICKET_ID.match(ticket_id):
        return not_found(request)
    console = console_of(request)
    try:
        await console.intake.post(f"{path_of(ticket_id)}/{verb}", person, json=body)
    except IntakeError as refused:
        audit(person, verb, ticket=ticket_id, refused=refused.code)
        if refused.status == 404:
            return not_found(request)
        return await render(request, person, ticket_id, error=refused, form=form)
    audit(person, verb, ticket=ticket_id)
    target = f"/tickets/{quote(ticket_id, safe='')}?done={verb}"
    return RedirectResponse(target, status_code=303)


def field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def refusal(code: str, message_zh: str) -> IntakeError:
    """A form the console can tell is incomplete before asking intake, in intake's terms."""
    return IntakeError(422, code, message_zh)


@router.post("/tickets/{ticket_id}/acknowledge", dependencies=[Depends(check_csrf)])
async def acknowledge(request: Request, ticket_id: str, person: Clerk) -> Response:
    return await act(request, person, ticket_id, "acknowledge", {}, {})


@router.post("/tickets/{ticket_id}/decline", dependencies=[Depends(check_csrf)])
async def decline(request: Request, ticket_id: str, person: Clerk) -> Response:
    form = await request.form()
    reason, note = field(form, "reason_code"), field(form, "note")
    if reason not in set(DeclineReason):
        error = refusal("reason_required", "请选择退单原因")
        return await render(request, person, ticket_id, error=error, form={"note": note})
    body = {"reason_code": reason, "note": note}
    return await act(request, person, ticket_id, "decline", body, {"note": note})


@router.post("/tickets/{ticket_id}/notes", dependencies=[Depends(check_csrf)])
async def add_note(request: Request, ticket_id: str, person: Clerk) -> Response:
    form = await request.form()
    note = field(form, "note")
    if not note:
        return await render(
            request, person, ticket_id, error=refusal("note_required", "请填写进展内容")
        )
    body = {"note": note, "public": form.get("public") == "on"}
    return await act(request, person, ticket_id, "notes", body, {"progress": note})


@router.post("/tickets/{ticket_id}/extension", dependencies=[Depends(check_csrf)])
async def request_extension(request: Request, ticket_id: str, person: Clerk) -> Response:
    form = await request.form()
    reason = field(form, "reason")
    try:
        hours = float(field(form, "extra_hours"))
    except ValueError:
        hours = 0.0
    if not 0 < hours <= 24 * 30 or not reason:
        error = refusal("extension_incomplete", "请填写延期小时数（1至720）和延期理由")
        return await render(request, person, ticket_id, error=error, form={"reason": reason})
    body = {"extra_hours": hours, "reason": reason}
    return await act(request, person, ticket_id, "extension-requests", body, {"reason": reason})


@router.post("/tickets/{ticket_id}/transfer", dependencies=[Depends(check_csrf)])
async def transfer(request: Request, ticket_id: str, person: Clerk) -> Response:
    form = await request.form()
    to_unit, reason = field(form, "to_unit_id"), field(form, "reason")
    if not to_unit or not reason:
        error = refusal("transfer_incomplete", "请选择转办单位并填写转办理由")
        return await render(request, person, ticket_id, error=error, form={"reason": reason})
    body = {"to_unit_id": to_unit, "reason": reason}
    return await act(request, person, ticket_id, "transfer", body, {"reason": reason})


@router.post("/tickets/{ticket_id}/resolve", dependencies=[Depends(check_csrf)])
async def resolve(request: Request, ticket_id: str, person: Clerk) -> Response:
    """办结: the evidence photos are stored first (K2's photo store, through intake), then
    the sign-off names their URLs."""
    if not TICKET_ID.match(ticket_id):
        return not_found(request)
    form = await request.form()
    note = field(form, "note")
    if not note:
        return await render(
            request, person, ticket_id, error=refusal("note_required", "请填写办结说明")
        )
    kept = {"resolve": note}
    urls = await store_evidence(request, person, ticket_id, form, kept)
    if isinstance(urls, Response):
        return urls
    body = {"note": note, "evidence_urls": urls}
    return await act(request, person, ticket_id, "resolve", body, kept)


async def store_evidence(
    request: Request, person: Person, ticket_id: str, form: Any, kept: dict[str, str]
) -> list[str] | Response:
    """The form's evidence photos, stored first (the photo store, through intake) for the
    command that names their URLs (办结, 申诉): their URLs, or the page to answer with
    instead (too many, a file refused, an unknown ticket), the form's text `kept`."""
    # An empty file input still sends one part, with no name and no bytes.
    uploads = [
        f for f in form.getlist("photos") if isinstance(f, UploadFile) and f.filename and f.size
    ]
    if len(uploads) > MAX_EVIDENCE:
        error = refusal("too_many_photos", f"证据照片最多 {MAX_EVIDENCE} 张")
        return await render(request, person, ticket_id, error=error, form=kept)
    urls: list[str] = []
    try:
        for upload in uploads:
            urls.append(await upload_evidence(request, person, ticket_id, upload))
    except ApiError as bad:  # the console's own check of the file (type, size)
        refused = IntakeError(bad.status, bad.detail.code, bad.detail.message_zh)
        return await render(request, person, ticket_id, error=refused, form=kept)
    except IntakeError as refused:
        if refused.status == 404:
            return not_found(request)
        return await render(request, person, ticket_id, error=refused, form=kept)
    return urls
