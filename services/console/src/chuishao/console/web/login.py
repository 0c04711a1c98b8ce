"""Logging in and out, and the home page that sends each role to its screen."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from chuishao.common.roles import PersonRole
from chuishao.console.audit import audit
from chuishao.console.auth import (
    SESSION_COOKIE,
    Person,
    check_csrf,
    console_of,
    current_person,
    person_of,
)
from chuishao.console.throttle import lock_message
from chuishao.console.web import templates

router = APIRouter()

# Where each role starts (its own screen).
HOME: dict[PersonRole, str] = {
    PersonRole.CLERK: "/clerk",
    PersonRole.COMMAND_CENTRE: "/centre",
    PersonRole.DISTRICT: "/centre",
    PersonRole.CITY: "/centre",
    PersonRole.OPERATOR: "/hotline",
    PersonRole.ADMIN: "/admin",
}
WRONG = "用户名或密码不正确"


def safe_next(target: str | None) -> str | None:
    """Only a path of this site (no //host, no scheme): no open redirect after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


@router.get("/")
async def home(person: Annotated[Person, Depends(current_person)]) -> RedirectResponse:
    return RedirectResponse(HOME[person.role], status_code=303)


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    if await person_of(request) is not None:
        return RedirectResponse(safe_next(next) or "/", status_code=303)
    return templates.TemplateResponse(request, "login.html", {"next": safe_next(next) or ""})


@router.post("/login", dependencies=[Depends(check_csrf)])
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    console = console_of(request)
    address = client_address(request)
    username = username.strip().lower()

    def again(message: str, status: int) -> Response:
        context = {"next": safe_next(next) or "", "error": message, "username": username}
        return templates.TemplateResponse(request, "login.html", context, status_code=status)

    if (wait := await console.throttle.locked_for(username, address)) > 0:
        audit(None, "login_locked", username=username, address=address)
        return again(lock_message(wait), 429)
    account = await console.accounts.check(username, password)
    if account is None:
        locked = await console.throttle.failed(username, address)
        audit(None, "login_failed", username=username, address=address, locked=locked > 0)
        return again(lock_message(locked) if locked else WRONG, 429 if locked else 401)
    await console.throttle.succeeded(username)
    if previous := request.cookies.get(SESSION_COOKIE):
        await console.sessions.close(previous)  # a new session id at every login
    session_id = await console.sessions.open(account.username)
    person = Person.of(account)
    audit(person, "login", address=address)
    response = RedirectResponse(safe_next(next) or HOME[person.role], status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=round(console.settings.console_session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=console.settings.console_secure_cookies,
    )
    return response


@router.post("/logout", dependencies=[Depends(check_csrf)])
async def logout(request: Request) -> Response:
    person = await person_of(request)
    if session_id := request.cookies.get(SESSION_COOKIE):
        await console_of(request).sessions.close(session_id)
    audit(person, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
