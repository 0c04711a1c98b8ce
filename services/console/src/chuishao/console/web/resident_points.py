"""A resident's own reward points (/r/points), behind a one-time SMS code:

    GET  /r/points          the balance and history in a confirmed session, else the number
    POST /r/points/code     send a 6-digit code to the number (notify's SMS channel)
    POST /r/points/verify   the code: right → a 10-minute session of that number's points
    POST /r/points/logout   end it

The code is made and checked here (phone_codes.py: hashed in Redis, 5 minutes, 5 tries,
sends throttled per number and per address); notify sends it
(`internal.notify.verification_code`), the console never talks to an SMS gateway. Once
confirmed, intake answers the number's ledger key (`reporter_ref`, the same look-up a
clerk's screen makes, asked as the console's self-service identity and audited at intake
under that name) and the session keeps only that key: the page has no field that could
name another number. The number is in no log line, no cookie and no Redis key.
"""

import json
import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from nats.errors import Error as NatsError

from chuishao.common import subjects
from chuishao.common.roles import PersonRole
from chuishao.console.audit import audit
from chuishao.console.auth import Person, check_csrf, console_of
from chuishao.console.intake_client import IntakeError
from chuishao.console.phone_codes import CodeOutcome
from chuishao.console.web import templates
from chuishao.console.web.login import client_address
from chuishao.console.web.points import TIMEOUT, UNAVAILABLE, ask_points
from chuishao.console.web.points import _lines as account_lines

router = APIRouter(prefix="/r/points")
CSRF = [Depends(check_csrf)]
COOKIE = "chuishao_points"
# ASCII digits only: Python's \d also takes ９ and ٩, and "13９00005555" would be a
# number of its own, with a send throttle of its own, for the same phone.
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# Who asks intake for a resident's ledger key once their code is confirmed: not a person
# at a screen, so a name of its own in intake's audit line.
SELF_SERVICE = Person(username="resident-self-service", role=PersonRole.OPERATOR)
OUTCOMES = {
    CodeOutcome.EXPIRED: "验证码已过期或已使用，请重新获取",
    CodeOutcome.TOO_MANY_TRIES: "验证码错误次数过多，请重新获取",
}


def _minutes(seconds: float) -> int:
    return max(1, -(-int(seconds) // 60))


async def _page(
    request: Request,
    *,
    step: str = "phone",
    phone: str = "",
    account: dict[str, Any] | None = None,
    problem: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Response:
    context = {
        "step": step,
        "phone": phone,
        "account": account,
        "lines": account_lines(account) if account else [],
        "problem": problem,
        "notice": notice,
        "minutes": _minutes(console_of(request).phone_codes.rule.ttl_seconds),
    }
    response = templates.TemplateResponse(
        request, "resident/points.html", context, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"  # a shared phone's back button
    return response


async def _account(request: Request, ref: str) -> dict[str, Any]:
    answer = await ask_points(request, subjects.POINTS_ACCOUNT, {"reporter_ref": ref, "limit": 50})
    if answer.get("ok") is not True:
        raise IntakeError(*UNAVAILABLE)
    return answer


@router.get("", response_class=HTMLResponse)
async def points_page(request: Request) -> Response:
    session_id = request.cookies.get(COOKIE)
    ref = await console_of(request).phone_codes.session(session_id) if session_id else None
    if ref is None:
        return await _page(request)
    return await _page(request, step="account", account=await _account(request, ref))


@router.post("/code", dependencies=CSRF, response_class=HTMLResponse)
async def send_code(request: Request, phone: Annotated[str, Form(max_length=32)] = "") -> Response:
    phone = phone.strip()
    if not MOBILE.match(phone):
        return await _page(request, problem="请输入 11 位手机号", status_code=422)
    console = console_of(request)
    codes = console.phone_codes
    address = client_address(request)
    if (wait := await codes.send_wait(phone, address)) > 0:
        audit(None, "points_code_throttled", address=address)
        problem = f"获取验证码过于频繁，请 {_minutes(wait)} 分钟后再试"
        return await _page(request, phone=phone, problem=problem, status_code=429)
    code = await codes.issue(phone)
    request_body = {
        "request_id": secrets.token_urlsafe(12),
        "phone": phone,
        "code": code,
        "purpose": "points",
        "valid_minutes": _minutes(codes.rule.ttl_seconds),
    }
    try:
        reply = await console.broker.connection.request(
            subjects.NOTIFY_VERIFICATION_CODE, json.dumps(request_body).encode(), timeout=TIMEOUT
        )
        sent: dict[str, Any] = json.loads(reply.data or b"{}")
    except (NatsError, TimeoutError, ValueError):
        sent = {"ok": False}
    if sent.get("ok") is not True:
        problem = "验证码短信暂时发送失败，请稍后再试"
        return await _page(request, phone=phone, problem=problem, status_code=503)
    audit(None, "points_code_sent", address=address)
    return await _page(request, step="code", phone=phone, notice="验证码已发送，请查看短信")


@router.post("/verify", dependencies=CSRF, response_class=HTMLResponse)
async def verify(
    request: Request,
    phone: Annotated[str, Form(max_length=32)] = "",
    code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    phone, code = phone.strip(), code.strip()
    if not MOBILE.match(phone):
        return await _page(request, problem="请输入 11 位手机号", status_code=422)
    console = console_of(request)
    checked = await console.phone_codes.check(phone, code)
    if checked.outcome == CodeOutcome.WRONG:
        problem = f"验证码不正确，还可以再试 {checked.tries_left} 次"
        return await _page(request, step="code", phone=phone, problem=problem, status_code=422)
    if checked.outcome != CodeOutcome.CONFIRMED:
        problem = OUTCOMES[checked.outcome]
        return await _page(request, phone=phone, problem=problem, status_code=422)
    found = await console.intake.post("/api/v1/reporter-refs", SELF_SERVICE, json={"phone": phone})
    session_id = await console.phone_codes.open_session(str(found["reporter_ref"]))
    audit(None, "points_code_confirmed", address=client_address(request))
    response = RedirectResponse("/r/points", status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=console.phone_codes.rule.session_seconds,
        path="/r/points",
        httponly=True,
        samesite="strict",
        secure=console.settings.console_secure_cookies,
    )
    return response


@router.post("/logout", dependencies=CSRF)
async def logout(request: Request) -> Response:
    if session_id := request.cookies.get(COOKIE):
        await console_of(request).phone_codes.close_session(session_id)
    response = RedirectResponse("/r/points", status_code=303)
    response.delete_cookie(COOKIE, path="/r/points")
    return response
