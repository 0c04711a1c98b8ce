"""The 12345 operator's seat (/hotline): file a report for a caller, see the caller's
earlier tickets, and work the callbacks (回访) of resolved tickets waiting for a rating.

    GET  /hotline                          the seat: filing form, lookup, callback list
    POST /hotline/reports                  file for the caller (channel hotline_12345)
    POST /hotline/lookup                   the caller's earlier tickets (audited at intake)
    POST /hotline/callbacks/<id>/number    show the reporter's number for a call (audited)
    POST /hotline/callbacks/<id>/rating    record the rating the caller gave
    POST /hotline/callbacks/<id>/attempt   no answer / unreachable

All of it goes to intake as the operator (their person token), which alone decides what
an operator may see; a number is asked for one ticket at a time, on a button, and both
the console's and intake's audit lines name the operator, never the number.
"""

import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chuishao.common.roles import PersonRole
from chuishao.console import knowledge
from chuishao.console.audit import audit
from chuishao.console.auth import Person, check_csrf, console_of, require
from chuishao.console.intake_client import IntakeError
from chuishao.console.service import Console
from chuishao.console.web import templates
from chuishao.console.web.wording import STATUSES, clock_time

router = APIRouter(prefix="/hotline")
Operator = Annotated[Person, Depends(require(PersonRole.OPERATOR))]
CSRF = [Depends(check_csrf)]
# A ticket leaves the callback list after this many calls without a rating; the rating
# window then closes it as "no rating" (intake's feedback-window policy).
CALLBACK_ATTEMPTS = 3
WORKLIST = 50
PRIORITIES = {"normal": "一般", "urgent": "紧急", "emergency": "特急（危及安全）"}
DONE = {
    "filed": "已登记，工单号 {ticket}",
    "rated": "已记录评价（{ticket}）",
    "attempted": "已记录本次回访未接通（{ticket}）",
    "answered": "已直接答复并结案，工单号 {ticket}",
}


def _row(console: Console, ticket: dict[str, Any]) -> dict[str, Any]:
    resolution = ticket.get("resolution") or {}
    return {
        "ticket_id": ticket["ticket_id"],
        "category": console.category_name(ticket.get("category")),
        "status": STATUSES.get(ticket["status"], ticket["status"]),
        "submitted": clock_time(ticket.get("submitted_at")),
        "resolved": clock_time(resolution.get("resolved_at")),
        "units": "、".join(
            a.get("unit_name") or a["unit_id"]
            for a in ticket["assignments"]
            if a["active"] and a["role"] != "supervisor"
        ),
        "attempts": ticket.get("callback_attempts", 0),
        "description": ticket.get("description", ""),
    }


async def _seat(
    request: Request,
    person: Person,
    *,
    history: list[dict[str, Any]] | None = None,
    looked_up: bool = False,
    number: tuple[str, dict[str, Any]] | None = None,
    status_code: int = 200,
    problem: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    console = console_of(request)
    page = await console.intake.get(
        "/api/v1/tickets",
        person,
        params={"status": "resolved", "order": "oldest", "limit": WORKLIST},
    )
    callbacks = [
        _row(console, t) for t in page["items"] if t.get("callback_attempts", 0) < CALLBACK_ATTEMPTS
    ]
    words = request.query_params.get("kb", "")[:100]
    answers = knowledge.search(console.knowledge.all(), words) if words else None
    done = request.query_params.get("done", "")
    ticket = request.query_params.get("ticket", "")
    context = {
        "groups": console.category_groups(),
        "priorities": PRIORITIES,
        "values": values or {},
        "idempotency_key": (values or {}).get("idempotency_key") or secrets.token_urlsafe(18),
        "problem": problem,
        "history": history,
        "looked_up": looked_up,
        "callbacks": callbacks,
        "number": number,
        "attempts_max": CALLBACK_ATTEMPTS,
        "kb_words": words,
        "answers": answers,
        "category_name": console.category_name,
        "done": DONE[done].format(ticket=ticket) if done in DONE and ticket.isalnum() else "",
    }
    return templates.TemplateResponse(
        request, "hotline/seat.html", context, status_code=status_code
    )


@router.get("", response_class=HTMLResponse)
async def seat(request: Request, person: Operator) -> Response:
    return await _seat(request, person)


def _back(done: str, ticket_id: str) -> Response:
    query = urlencode({"done": done, "ticket": ticket_id})
    return RedirectResponse(
        f"/hotline?{query}#{'callbacks' if done != 'filed' else 'file'}", status_code=303
    )


async def file_for_caller(
    console: Console,
    person: Person,
    report: dict[str, Any],
    name: str,
    phone: str,
    idempotency_key: str,
) -> str:
    """File a caller's report at intake (a call taken, or one answered from the knowledge
    base): the caller named when they gave a name or a number, taken once however often
    the form is sent (its Idempotency-Key, drawn with the form); the new ticket's id."""
    reporter = {k: v.strip() for k, v in (("name", name), ("phone", phone)) if v.strip()}
    if reporter:
        report["reporter"] = reporter
    answer = await console.intake.post(
        "/api/v1/reports",
        person,
        json=report,
        headers={"Idempotency-Key": idempotency_key} if idempotency_key else None,
    )
    return str(answer["ticket_id"])


@router.post("/reports", dependencies=CSRF)
async def file_report(
    request: Request,
    person: Operator,
    description: Annotated[str, Form(max_length=4000)] = "",
    address: Annotated[str, Form(max_length=500)] = "",
    category: Annotated[str, Form(max_length=64)] = "",
    priority: Annotated[str, Form(max_length=16)] = "normal",
    name: Annotated[str, Form(max_length=64)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    values = {
        "description": description.strip(),
        "address": address.strip(),
        "category": category,
        "priority": priority if priority in PRIORITIES else "normal",
        "name": name.strip(),
        "phone": phone.strip(),
        "idempotency_key": idempotency_key,
    }
    if not values["description"] or not values["address"]:
        return await _seat(
            request, person, status_code=422, problem="请填写来电反映的问题和地址", values=values
        )
    report: dict[str, Any] = {
        "description": values["description"],
        "location": {"address": values["address"]},
        "channel": "hotline_12345",
        "priority": values["priority"],
    }
    if category:
        report["category"] = category
    try:
        ticket_id = await file_for_caller(
            console_of(request), person, report, name, phone, idempotency_key
        )
    except IntakeError as error:
        if error.status in (400, 422):
            return await _seat(
                request, person, status_code=422, problem=error.message_zh, values=values
            )
        raise
    audit(person, "file_for_caller", ticket=ticket_id)
    return _back("filed", ticket_id)


@router.post("/lookup", dependencies=CSRF, response_class=HTMLResponse)
async def lookup(
    request: Request, person: Operator, phone: Annotated[str, Form(max_length=32)] = ""
) -> Response:
    console = console_of(request)
    try:
        page = await console.intake.post(
            "/api/v1/caller-lookups", person, json={"phone": phone.strip()}
        )
    except IntakeError as error:
        if error.status == 422:
            return await _seat(request, person, status_code=422, problem="请输入正确的电话号码")
        raise
    audit(person, "caller_lookup", found=len(page["items"]))
    history = [_row(console, t) for t in page["items"]]
    return await _seat(request, person, history=history, looked_up=True)


@router.post("/callbacks/{ticket_id}/number", dependencies=CSRF, response_class=HTMLResponse)
async def number(request: Request, ticket_id: str, person: Operator) -> Response:
    contact = await console_of(request).intake.get(f"/api/v1/tickets/{ticket_id}/reporter", person)
    audit(person, "reporter_number_shown", ticket=ticket_id)
    return await _seat(request, person, number=(ticket_id, contact))


@router.post("/callbacks/{ticket_id}/rating", dependencies=CSRF)
async def rating(
    request: Request,
    ticket_id: str,
    person: Operator,
    rating: Annotated[str, Form(max_length=16)],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    await console_of(request).intake.post(
        f"/api/v1/tickets/{ticket_id}/rating", person, json={"rating": rating, "comment": comment}
    )
    audit(person, "callback_rating", ticket=ticket_id)
    return _back("rated", ticket_id)


@router.post("/callbacks/{ticket_id}/attempt", dependencies=CSRF)
async def attempt(
    request: Request,
    ticket_id: str,
    person: Operator,
    outcome: Annotated[str, Form(max_length=16)] = "no_answer",
) -> Response:
    await console_of(request).intake.post(
        f"/api/v1/tickets/{ticket_id}/callbacks", person, json={"outcome": outcome}
    )
    audit(person, "callback_attempt", ticket=ticket_id, outcome=outcome)
    return _back("attempted", ticket_id)
