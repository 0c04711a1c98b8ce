"""The command centre (/centre) for a street's `command_centre`, a `district` and the
`city`: the manual-dispatch queue (assign units with a whistle), declines to arbitrate,
extension requests to decide, overdue tickets to urge (督办), hotspot warnings arriving
live, and ticket search (/centre/search).

Every read and action goes to intake as the person at the screen (IntakeClient); intake
scopes it — a street's centre its street, a district its district, the city everything —
and answers a ticket outside the scope with 404, which this page shows as such. The
console keeps no ticket state.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from chuishao.common.domain import Location, Whistle
from chuishao.common.roles import PersonRole
from chuishao.common.status import WORKING, Status
from chuishao.console.audit import audit
from chuishao.console.auth import Person, check_csrf, console_of, require
from chuishao.console.intake_client import IntakeError
from chuishao.console.map import Pin, svg_map, where
from chuishao.console.service import Console
from chuishao.console.web import templates
from chuishao.console.web.centre_live import hotspot_frames
from chuishao.console.web.centre_places import (
    related_places,
    scope_name,
    serving_units,
    streets_of,
)
from chuishao.console.web.wording import (
    CHANNELS,
    DECLINE_REASONS,
    STATUSES,
    WHISTLES,
    age,
    clock_time,
    parse_time,
    until,
)

router = APIRouter()
CENTRE_ROLES = (PersonRole.COMMAND_CENTRE, PersonRole.DISTRICT, PersonRole.CITY)
Centre = Annotated[Person, Depends(require(*CENTRE_ROLES))]
# Operators (12345) search too; they dispatch nothing by hand.
Searcher = Annotated[Person, Depends(require(*CENTRE_ROLES, PersonRole.OPERATOR))]
CSRF = [Depends(check_csrf)]
# What the console passes on of intake's export answer.
EXPORT_HEADERS = ("content-type", "content-disposition")

QUEUE_LIMIT = 100
DETAIL_LIMIT = 40  # queued tickets read in full (danger notice, declines, the map)
PAGE = 200  # intake's largest page
LIKELY = 0.3  # a triage suggestion at least this confident is preselected in the form
WHISTLE_CHOICES = (Whistle.DAILY, Whistle.COORDINATION, Whistle.EMERGENCY)
# What the flash line says after an action (?done=…).
DONE = {
    "assigned": "已派单",
    "upheld": "已维持原派单，工单退回原承办单位",
    "approved": "已批准延期",
    "denied": "已驳回延期申请",
    "urged": "已督办，承办单位已收到通知",
    "proactive": "已主动立案（未诉先办），工单将照常派单",
}


@dataclass
class Queued:
    """A ticket waiting for the centre, as the page shows it."""

    ticket_id: str
    category: str
    suggestions: list[dict[str, Any]]  # {code, name, confidence, units: [{id, name}]}
    suggested_units: list[str]
    description: str
    place: str
    age: str
    emergency: bool
    call_now: str  # the danger notice: 如有人员生命危险，请立即拨打119
    reason: str
    declines: list[str] = field(default_factory=list)  # 和园社区网格站 退单：不属于本单位职责
    declined_by: list[str] = field(default_factory=list)  # unit ids, the last one last
    needs_category: bool = False


def place_of(console: Console, ticket: dict[str, Any] | None, codes: list[str]) -> str:
    names: list[str] = []
    if ticket is not None:
        location = ticket.get("location") or {}
        if ticket.get("street"):
            names.append(console.place_name(ticket["street"]))
        if location.get("grid_code"):
            names.append(console.place_name(location["grid_code"]))
        if location.get("address") and len(names) < 2:
            names.append(str(location["address"]))
    if not names and codes:
        names = [console.place_name(code) for code in reversed(codes[:2])]
    return " · ".join(n for n in names if n) or "位置不详"


def declines_of(console: Console, ticket: dict[str, Any] | None) -> list[str]:
    """The ticket's 退单 in words, oldest first."""
    lines = []
    for entry in (ticket or {}).get("history", []):
        if entry.get("type") != "TicketDeclined":
            continue
        # "<unit> returned it: <reason_code> <note>"
        unit, _, rest = str(entry.get("summary", "")).partition(" returned it: ")
        code, _, note = rest.partition(" ")
        reason = next((text for key, text in DECLINE_REASONS.items() if key == code), code)
        lines.append(f"{console.unit_name(unit)} 退单：{reason}" + (f"（{note}）" if note else ""))
    return lines


def percent(confidence: Any) -> str:
    value = float(confidence or 0)
    return "<1%" if value < 0.01 else f"{round(100 * value)}%"


def queued_of(
    console: Console, entry: dict[str, Any], ticket: dict[str, Any] | None, now: datetime
) -> Queued:
    def units(ids: list[str]) -> list[dict[str, str]]:
        return [{"id": u, "name": console.unit_name(u)} for u in ids]

    suggestions = [
        {
            "code": s["category"],
            "name": console.category_name(s["category"]),
            "confidence": percent(s.get("confidence")),
            "units": units(list(s.get("units", []))),
            "likely": float(s.get("confidence") or 0) >= LIKELY,
        }
        for s in entry.get("suggestions", [])[:3]
    ]
    if not suggestions and entry.get("suggested_category"):
        suggestions = [
            {
                "code": entry["suggested_category"],
                "name": console.category_name(entry["suggested_category"]),
                "confidence": percent(entry.get("confidence")),
                "units": [],
                "likely": float(entry.get("confidence") or 0) >= LIKELY,
            }
        ]
    # A guess triage itself doubts is shown, never preselected: a dispatcher who clicks
    # 派单 without looking must not send it where a 1 % guess pointed.
    likely = bool(suggestions) and suggestions[0]["likely"]
    call = ""
    if ticket and ticket.get("call_now"):
        call = (
            ticket.get("call_message_zh")
            or f"如有人员生命危险，请立即拨打{'、'.join(ticket['call_now'])}"
        )
    category = entry.get("category")
    return Queued(
        ticket_id=entry["ticket_id"],
        category=console.category_name(category) if category else "未分类",
        suggestions=suggestions,
        suggested_units=list(entry.get("suggested_units", []))
        if likely or entry.get("category")
        else [],
        description=entry.get("description", ""),
        place=place_of(console, ticket, list(entry.get("place", []))),
        age=age(entry.get("queued_at"), now),
        emergency=entry.get("priority") == "emergency",
        call_now=call,
        reason=entry.get("reason", ""),
        declines=declines_of(console, ticket),
        declined_by=list(entry.get("declined_by", [])),
        needs_category=category is None,
    )


async def _ticket_or_none(
    console: Console, person: Person, ticket_id: str
) -> dict[str, Any] | None:
    try:
        ticket: dict[str, Any] = await console.intake.get(f"/api/v1/tickets/{ticket_id}", person)
    except IntakeError:
        return None  # gone from view meanwhile: the queue row still shows what it has
    return ticket


async def _search(console: Console, person: Person, **params: Any) -> list[dict[str, Any]]:
    page = await console.intake.get("/api/v1/tickets", person, params=params)
    items: list[dict[str, Any]] = page["items"]
    return items


def _extensions(
    console: Console, tickets: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    rows = []
    for ticket in tickets:
        for part in ticket.get("assignments", []):
            if part.get("active") and part.get("extension_requested_seconds"):
                rows.append(
                    {
                        "ticket_id": ticket["ticket_id"],
                        "category": console.category_name(ticket.get("category")),
                        "place": place_of(console, ticket, []),
                        "unit_id": part["unit_id"],
                        "unit": part.get("unit_name") or console.unit_name(part["unit_id"]),
                        "hours": round(part["extension_requested_seconds"] / 3600, 1),
                        "asked_at": _asked_at(ticket, part["unit_id"]),
                        "deadline": until(ticket.get("deadline"), now),
                    }
                )
    return rows


def _asked_at(ticket: dict[str, Any], unit_id: str) -> str:
    """When the unit asked (its latest ExtensionRequested in the history)."""
    for entry in reversed(ticket.get("history", [])):
        if entry.get("type") == "ExtensionRequested" and str(entry.get("summary", "")).startswith(
            unit_id
        ):
            return clock_time(entry.get("at"))
    return ""


def _overdue(
    console: Console, tickets: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    rows = []
    for ticket in tickets:
        if ticket.get("status") not in WORKING:
            continue
        owing = [
            a
            for a in ticket.get("assignments", [])
            if a.get("active") and not a.get("signed_off_at") and a.get("role") != "supervisor"
        ]
        rows.append(
            {
                "ticket_id": ticket["ticket_id"],
                "category": console.category_name(ticket.get("category")),
                "place": place_of(console, ticket, []),
                "status": STATUSES.get(Status(ticket["status"]), ticket["status"]),
                "late": until(ticket.get("overdue_since") or ticket.get("deadline"), now),
                "units": [
                    {
                        "id": a["unit_id"],
                        "name": a.get("unit_name") or console.unit_name(a["unit_id"]),
                    }
                    for a in owing
                ],
            }
        )
    return rows


async def centre_context(request: Request, person: Person) -> dict[str, Any]:
    console = console_of(request)
    now = console.clock.now()
    queue, working, overdue = await asyncio.gather(
        console.intake.get("/api/v1/manual-queue", person, params={"limit": QUEUE_LIMIT}),
        asyncio.gather(
            *(
                _search(console, person, status=s.value, limit=PAGE)
                for s in (Status.DISPATCHED, Status.IN_PROGRESS, Status.AWAITING_RESIDENT)
            )
        ),
        _search(console, person, overdue="true", limit=PAGE),
    )
    entries: list[dict[str, Any]] = queue["tickets"]
    details = await asyncio.gather(
        *(_ticket_or_none(console, person, e["ticket_id"]) for e in entries[:DETAIL_LIMIT])
    )
    tickets = {t["ticket_id"]: t for t in details if t is not None}
    queued = [queued_of(console, e, tickets.get(e["ticket_id"]), now) for e in entries]
    pins = []
    for ticket in tickets.values():
        point = where_of(console, ticket)
        if point is not None:
            pins.append(Pin(point[0], point[1], ticket["ticket_id"], f"#q-{ticket['ticket_id']}"))
    streets = streets_of(console, person)
    # A street's or a district's own outlines only: its place fills the map.
    inside = related_places(console, streets) if streets is not None else None
    drawn = [p for p in console.places.all() if inside is None or p.code in inside]
    return {
        "scope": scope_name(console, person),
        "queue": [q for q in queued if not q.declined_by],
        "arbitrate": [q for q in queued if q.declined_by],
        "dangers": [q for q in queued if q.call_now],
        "extensions": _extensions(console, [t for page in working for t in page], now),
        "overdue": _overdue(console, overdue, now),
        "units": serving_units(console, person),
        "categories": sorted(console.catalogue.all(), key=lambda c: (c.group, c.name)),
        "whistles": [(w.value, WHISTLES[w]) for w in WHISTLE_CHOICES],
        # The centre's place (its street shaded) with the pins of the waiting tickets
        # whose place is known; drawn offline from the directory's outlines.
        "map": svg_map(drawn, pins, street=person.street, title="待派单工单位置"),
        "pinned": len(pins),
        "streets": sorted(streets) if streets is not None else None,
        "unit_name": console.unit_name,
        "done": DONE.get(request.query_params.get("done", ""), ""),
        "done_ticket": request.query_params.get("t", ""),
    }


def where_of(console: Console, ticket: dict[str, Any]) -> tuple[float, float] | None:
    try:
        location = Location.model_validate(ticket.get("location") or {})
    except ValueError:
        return None
    return where(location, console.places.all())


@router.get("/centre", response_class=HTMLResponse)
async def centre_page(request: Request, person: Searcher) -> Response:
    if person.role == PersonRole.OPERATOR:
        return RedirectResponse("/centre/search", status_code=303)
    context = await centre_context(request, person)
    return templates.TemplateResponse(request, "centre/centre.html", context)


def back(done: str, ticket_id: str) -> RedirectResponse:
    return RedirectResponse(f"/centre?{urlencode({'done': done, 't': ticket_id})}", status_code=303)


@router.post("/centre/tickets/{ticket_id}/assign", dependencies=CSRF)
async def assign(
    request: Request,
    person: Centre,
    ticket_id: str,
    lead: Annotated[str, Form(max_length=64)],
    whistle: Annotated[Whistle, Form()] = Whistle.DAILY,
    co: Annotated[list[str] | None, Form()] = None,
    category: Annotated[str, Form(max_length=64)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """派单: a lead (主办), co-handlers (协办) and the whistle; a category when it has none."""
    body: dict[str, Any] = {
        "lead": lead,
        "co": [u for u in dict.fromkeys(co or []) if u and u != lead],
        "whistle": whistle.value,
        "note": note.strip(),
    }
    if category:
        body["category"] = category
    await console_of(request).intake.post(f"/api/v1/tickets/{ticket_id}/assign", person, json=body)
    audit(person, "assign", ticket=ticket_id, lead=lead, co=len(body["co"]), whistle=whistle.value)
    return back("assigned", ticket_id)


@router.post("/centre/tickets/{ticket_id}/uphold", dependencies=CSRF)
async def uphold(
    request: Request,
    person: Centre,
    ticket_id: str,
    unit_id: Annotated[str, Form(max_length=64)],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """维持原派单: the decline is not accepted; the ticket goes back to the unit that
    returned it (a hand dispatch, so the router's "never straight back" does not apply)."""
    body = {
        "lead": unit_id,
        "whistle": Whistle.DAILY.value,
        "note": note.strip() or "退单不予认可，维持原派单",
    }
    await console_of(request).intake.post(f"/api/v1/tickets/{ticket_id}/assign", person, json=body)
    audit(person, "uphold_dispatch", ticket=ticket_id, unit=unit_id)
    return back("upheld", ticket_id)


@router.post("/centre/tickets/{ticket_id}/extension", dependencies=CSRF)
async def decide_extension(
    request: Request,
    person: Centre,
    ticket_id: str,
    unit_id: Annotated[str, Form(max_length=64)],
    decision: Annotated[str, Form(pattern="^(approve|deny)$")],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    approve = decision == "approve"
    body = {"unit_id": unit_id, "approve": approve, "reason": reason.strip()}
    await console_of(request).intake.post(
        f"/api/v1/tickets/{ticket_id}/extension-decisions", person, json=body
    )
    audit(person, "extension_decision", ticket=ticket_id, unit=unit_id, approve=approve)
    return back("approved" if approve else "denied", ticket_id)


@router.post("/centre/tickets/{ticket_id}/urge", dependencies=CSRF)
async def urge(
    request: Request,
    person: Centre,
    ticket_id: str,
    unit_id: Annotated[str, Form(max_length=64)],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """督办: a notice to the unit (notify delivers TicketUrged on its subject), recorded in
    the ticket's history by intake."""
    body = {"unit_id": unit_id, "note": note.strip()}
    await console_of(request).intake.post(f"/api/v1/tickets/{ticket_id}/urge", person, json=body)
    audit(person, "urge", ticket=ticket_id, unit=unit_id)
    return back("urged", ticket_id)


@router.get("/centre/hotspots/stream")
async def hotspot_stream(request: Request, person: Centre) -> StreamingResponse:
    console = console_of(request)
    fragment = templates.env.get_template("centre/_hotspot.html")
    frames = hotspot_frames(
        console,
        streets_of(console, person),
        lambda item: fragment.render(h=item),
        request.is_disconnected,
    )
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def search_form(
    status: Annotated[str, Query(max_length=32)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    unit: Annotated[str, Query(max_length=64)] = "",
    street: Annotated[str, Query(max_length=64)] = "",
    channel: Annotated[str, Query(max_length=32)] = "",
    since: Annotated[str, Query(max_length=32)] = "",
    until_: Annotated[str, Query(alias="until", max_length=32)] = "",
    overdue: Annotated[str, Query(max_length=8)] = "",
) -> dict[str, str]:
    """The search form's fields as the person filled them in (the page and its exports)."""
    return {
        "status": status,
        "category": category,
        "unit": unit,
        "street": street,
        "channel": channel,
        "since": since,
        "until": until_,
        "overdue": overdue,
    }


SearchForm = Annotated[dict[str, str], Depends(search_form)]


def search_params(form: dict[str, str]) -> dict[str, str]:
    """The form as intake's search filters (the ones filled in)."""
    asked = {
        **form,
        # <input type="date"> gives a day: from its start, to its end (Beijing time).
        "since": f"{form['since']}T00:00:00+08:00" if form["since"] else "",
        "until": f"{form['until']}T23:59:59+08:00" if form["until"] else "",
        "overdue": "true" if form["overdue"] else "",
    }
    return {k: v for k, v in asked.items() if v}


@router.get("/centre/search", response_class=HTMLResponse)
async def search_page(
    request: Request,
    person: Searcher,
    form: SearchForm,
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Intake's ticket search with its filters, as the person (intake scopes it)."""
    console = console_of(request)
    now = console.clock.now()
    params = search_params(form)
    error = ""
    items: list[dict[str, Any]] = []
    next_cursor = None
    try:
        page = await console.intake.get(
            "/api/v1/tickets",
            person,
            params={**params, "limit": 50, **({"cursor": cursor} if cursor else {})},
        )
        items, next_cursor = page["items"], page.get("next_cursor")
    except IntakeError as refused:
        if refused.status >= 500:
            raise
        error = refused.message_zh
    streets = streets_of(console, person)
    street_choices = [
        p
        for p in console.places.all()
        if p.kind == "street" and (streets is None or p.code in streets)
    ]
    rows = [
        {
            "ticket_id": t["ticket_id"],
            "category": console.category_name(t.get("category")) if t.get("category") else "未分类",
            "place": place_of(console, t, []),
            "status": STATUSES.get(Status(t["status"]), t["status"]),
            "units": "、".join(
                a.get("unit_name") or a["unit_id"]
                for a in t.get("assignments", [])
                if a.get("active")
            ),
            "submitted": clock_time(t.get("submitted_at")),
            "deadline": until(t.get("deadline"), now) if t.get("status") in WORKING else "",
            "late": (d := parse_time(t.get("deadline"))) is not None
            and d < now
            and t.get("status") in WORKING,
        }
        for t in items
    ]
    more = (
        urlencode({**{k: v for k, v in form.items() if v}, "cursor": next_cursor})
        if next_cursor
        else ""
    )
    context = {
        "form": form,
        "export": urlencode({k: v for k, v in form.items() if v}),
        "rows": rows,
        "error": error,
        "more": more,
        "scope": scope_name(console, person),
        "statuses": [(s.value, name) for s, name in STATUSES.items()],
        "categories": sorted(console.catalogue.all(), key=lambda c: (c.group, c.name)),
        "channels": sorted(CHANNELS.items()),
        "streets": street_choices,
        "units": serving_units(console, person),
    }
    return templates.TemplateResponse(request, "centre/search.html", context)


@router.get("/centre/search/export.{suffix}")
async def search_export(
    request: Request,
    person: Searcher,
    form: SearchForm,
    suffix: Annotated[Literal["csv", "xlsx"], Path()],
) -> StreamingResponse:
    """The search's tickets as CSV or Excel: intake's export, asked as the person (so a
    street's account gets only its street's) and passed on piece by piece as it comes."""
    answer = await console_of(request).intake.stream(
        f"/api/v1/tickets.{suffix}", person, params=search_params(form)
    )
    headers = {k: v for k, v in answer.headers.items() if k.lower() in EXPORT_HEADERS}
    return StreamingResponse(
        answer.aiter_bytes(), headers=headers, background=BackgroundTask(answer.aclose)
    )
