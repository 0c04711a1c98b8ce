"""Appeals (申诉) in the console: a clerk appeals from the ticket page (a reason and
photos); a district (or city) account works through 申诉审核 (/appeals), pending first,
upholding (免责) or rejecting each; a street's command centre reads its streets' appeals.
Everything goes through intake as the person at the screen (its `appeals` and
`appeal-decisions` commands, its /api/v1/appeals list), which checks role and scope; the
console keeps nothing (docs/console.md, "Appeals")."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chuishao.common.domain import AppealOutcome, AppealSubject
from chuishao.common.roles import PersonRole
from chuishao.console.audit import audit
from chuishao.console.auth import Clerk, Person, check_csrf, console_of, require
from chuishao.console.intake_client import IntakeError
from chuishao.console.web import templates
from chuishao.console.web.appeal_lines import DECIDERS, line
from chuishao.console.web.tickets import (
    TICKET_ID,
    act,
    field,
    not_found,
    refusal,
    render,
    store_evidence,
)
from chuishao.console.web.wording import STATUSES

router = APIRouter()
# Who reads the list: the deciders and the streets' command centres (read-only).
Reviewer = Annotated[
    Person,
    Depends(require(PersonRole.DISTRICT, PersonRole.CITY, PersonRole.COMMAND_CENTRE)),
]
Decider = Annotated[Person, Depends(require(PersonRole.DISTRICT, PersonRole.CITY))]


@router.post("/tickets/{ticket_id}/appeal", dependencies=[Depends(check_csrf)])
async def file_appeal(request: Request, ticket_id: str, person: Clerk) -> Response:
    """申诉: the photos are stored first (the photo store, through intake), then the
    appeal names their URLs, as for 办结."""
    if not TICKET_ID.match(ticket_id):
        return not_found(request)
    form = await request.form()
    subject, reason = field(form, "subject"), field(form, "reason")
    kept = {"appeal": reason}
    if subject not in set(AppealSubject) or not reason:
        error = refusal("appeal_incomplete", "请选择申诉事项并填写申诉理由")
        return await render(request, person, ticket_id, error=error, form=kept)
    urls = await store_evidence(request, person, ticket_id, form, kept)
    if isinstance(urls, Response):
        return urls
    body = {"subject": subject, "reason": reason, "evidence_urls": urls}
    return await act(request, person, ticket_id, "appeals", body, kept)


async def listing(
    request: Request, person: Person, error: IntakeError | None = None, done: str | None = None
) -> Response:
    console = console_of(request)
    answer = await console.intake.get("/api/v1/appeals", person, params={"state": "all"})
    lines = [
        line(
            console,
            item["ticket_id"],
            item["appeal"],
            category=console.category_name(item.get("category")),
            street=console.place_name(item["street"]) if item.get("street") else "",
            status=STATUSES.get(item.get("status"), str(item.get("status", ""))),
        )
        for item in answer.get("items", [])
    ]
    context = {
        "pending": [a for a in lines if a.pending],
        "decided": [a for a in lines if not a.pending],
        "may_decide": person.role in DECIDERS,
        "error": error,
        "done": done,
    }
    status = error.status if error is not None else 200
    return templates.TemplateResponse(request, "appeals.html", context, status_code=status)


@router.get("/appeals", response_class=HTMLResponse)
async def appeals_page(request: Request, person: Reviewer) -> Response:
    done = {"upheld": "已支持申诉，该项免责", "rejected": "已驳回申诉"}.get(
        request.query_params.get("done", "")
    )
    return await listing(request, person, done=done)


@router.post("/appeals/decide", dependencies=[Depends(check_csrf)])
async def decide(request: Request, person: Decider) -> Response:
    form = await request.form()
    ticket_id, appeal_id = field(form, "ticket_id"), field(form, "appeal_id")
    outcome, note = field(form, "outcome"), field(form, "note")
    if not TICKET_ID.match(ticket_id) or not appeal_id or outcome not in set(AppealOutcome):
        error = refusal("decision_incomplete", "请选择支持或驳回")
        return await listing(request, person, error=error)
    console = console_of(request)
    body = {"appeal_id": appeal_id, "outcome": outcome, "note": note}
    try:
        await console.intake.post(
            f"/api/v1/tickets/{ticket_id}/appeal-decisions", person, json=body
        )
    except IntakeError as refused:
        audit(person, "appeal-decisions", ticket=ticket_id, refused=refused.code)
        return await listing(request, person, error=refused)
    audit(person, "appeal-decisions", ticket=ticket_id, outcome=outcome)
    return RedirectResponse(f"/appeals?done={outcome}", status_code=303)
