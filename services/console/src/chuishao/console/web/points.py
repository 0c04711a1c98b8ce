"""Reward points at the community service centre (/points, a unit's clerk): look up a
resident's balance by their number, and record an exchange of points for goods.

The number goes to intake, which answers its keyed pseudonym (the ledger's key, never the
number); the points service answers the balance and takes the exchange over NATS
(`internal.points.account`, `cmd.points.exchange`), which it refuses when the balance is
short. The exchange id is chosen when the form is drawn, so a second tap (or a resent
form) is the same exchange, taken once.
"""

import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from nats.errors import Error as NatsError

from chuishao.common import subjects
from chuishao.console.audit import audit
from chuishao.console.auth import Clerk, Person, check_csrf, console_of
from chuishao.console.intake_client import IntakeError
from chuishao.console.web import templates
from chuishao.console.web.wording import clock_time

router = APIRouter(prefix="/points")
CSRF = [Depends(check_csrf)]
TIMEOUT = 5.0
REASONS = {
    "accepted": "反映被受理",
    "resolved": "反映的问题已办结",
    "linked": "重复反映，收回",
    "duplicate": "重复反映，收回",
    "withdrawn": "撤回，收回",
}


# The points service did not answer: a 503 page in intake's terms.
UNAVAILABLE = (503, "points_unavailable", "积分服务暂时无法连接，请稍后再试")


async def ask_points(request: Request, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    """The points service's answer to one request (a clerk's screen and a resident's own
    page both ask it); UNAVAILABLE when NATS or the service does not answer in time."""
    try:
        reply = await console_of(request).broker.connection.request(
            subject, json.dumps(body).encode(), timeout=TIMEOUT
        )
    except (NatsError, TimeoutError) as error:
        raise IntakeError(*UNAVAILABLE) from error
    answer: dict[str, Any] = json.loads(reply.data or b"{}")
    return answer


async def _ask(request: Request, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    """A request to the points service; its refusal as an IntakeError-shaped page."""
    answer = await ask_points(request, subject, body)
    if answer.get("ok") is False or "error" in answer:
        detail = answer.get("error") or {}
        raise IntakeError(
            409 if detail.get("code") == "insufficient_points" else 422,
            str(detail.get("code", "refused")),
            str(detail.get("message_zh", "积分服务未能完成这个请求")),
        )
    return answer


async def _ref(request: Request, person: Person, phone: str) -> str:
    """The ledger's key for the number (intake answers it; the number is kept nowhere)."""
    found = await console_of(request).intake.post(
        "/api/v1/reporter-refs", person, json={"phone": phone}
    )
    return str(found["reporter_ref"])


async def _account(request: Request, ref: str) -> dict[str, Any]:
    return await _ask(request, subjects.POINTS_ACCOUNT, {"reporter_ref": ref, "limit": 20})


def _lines(account: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "at": clock_time(e["occurred_at"]),
            "points": e["points"],
            "what": REASONS.get(e["reason"], e["reason"])
            + (f"（工单 {e['ticket_id']}）" if e.get("ticket_id") else "")
            + ("（当日已达上限）" if e.get("capped") else ""),
        }
        for e in account.get("entries", [])
    ]


async def _page(
    request: Request,
    person: Person,
    *,
    phone: str = "",
    account: dict[str, Any] | None = None,
    done: str = "",
    problem: str = "",
    status_code: int = 200,
) -> Response:
    context = {
        "phone": phone,
        "account": account,
        "lines": _lines(account) if account else [],
        "exchange_id": secrets.token_urlsafe(12),
        "centre": console_of(request).unit_name(person.unit),
        "done": done,
        "problem": problem,
    }
    return templates.TemplateResponse(request, "points.html", context, status_code=status_code)


@router.get("", response_class=HTMLResponse)
async def points_page(request: Request, person: Clerk) -> Response:
    return await _page(request, person)


@router.post("/lookup", dependencies=CSRF, response_class=HTMLResponse)
async def lookup(
    request: Request, person: Clerk, phone: Annotated[str, Form(max_length=32)] = ""
) -> Response:
    try:
        account = await _account(request, await _ref(request, person, phone.strip()))
    except IntakeError as error:
        if error.status == 422:
            return await _page(request, person, problem="请输入正确的手机号", status_code=422)
        raise
    audit(person, "points_lookup")
    return await _page(request, person, phone=phone.strip(), account=account)


@router.post("/exchange", dependencies=CSRF, response_class=HTMLResponse)
async def exchange(
    request: Request,
    person: Clerk,
    phone: Annotated[str, Form(max_length=32)],
    exchange_id: Annotated[str, Form(max_length=64)],
    points: Annotated[int, Form(gt=0, le=100_000)],
    goods: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    ref = await _ref(request, person, phone.strip())
    try:
        await _ask(
            request,
            subjects.POINTS_EXCHANGE,
            {
                "exchange_id": exchange_id,
                "reporter_ref": ref,
                "points": points,
                "goods": goods.strip(),
                "centre": console_of(request).unit_name(person.unit)[:100] or "社区服务站",
                "person": person.username,
            },
        )
    except IntakeError as error:
        if error.status != 409:
            raise
        return await _page(
            request,
            person,
            phone=phone,
            account=await _account(request, ref),
            problem=error.message_zh,
            status_code=409,
        )
    audit(person, "points_exchange", exchange=exchange_id, points=points)
    account = await _account(request, ref)
    return await _page(
        request, person, phone=phone, account=account, done=f"已兑换 {points} 积分：{goods.strip()}"
    )
