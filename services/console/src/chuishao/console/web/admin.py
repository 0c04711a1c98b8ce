"""The admin page: accounts listed, added, disabled or enabled, passwords reset. A new or
reset password is shown once, on the page that made it; only its hash is kept."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from chuishao.common.roles import ROLE_NAMES_ZH, SCOPE_FIELD, PersonRole
from chuishao.console.accounts import AccountError
from chuishao.console.audit import audit
from chuishao.console.auth import Person, check_csrf, console_of, require
from chuishao.console.web import templates

router = APIRouter(prefix="/admin")
Admin = Annotated[Person, Depends(require(PersonRole.ADMIN))]


async def page(
    request: Request,
    person: Person,
    *,
    notice: str | None = None,
    error: str | None = None,
    shown_password: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    console = console_of(request)
    places = console.places.all()
    context = {
        "person": person,
        "accounts": await console.accounts.all(),
        "roles": [(role.value, ROLE_NAMES_ZH[role]) for role in PersonRole],
        "units": sorted((unit.id, unit.name) for unit in console.units.all()),
        "streets": sorted((p.code, p.name) for p in places if p.kind == "street"),
        "districts": sorted((p.code, p.name) for p in places if p.kind == "district"),
        "notice": notice,
        "error": error,
        "shown_password": shown_password,
        "unit_name": console.unit_name,
        "place_name": console.place_name,
    }
    return templates.TemplateResponse(request, "admin.html", context, status_code=status_code)


@router.get("")
async def accounts_page(request: Request, person: Admin) -> Response:
    return await page(request, person)


@router.post("/accounts", dependencies=[Depends(check_csrf)])
async def add_account(
    request: Request,
    person: Admin,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[PersonRole, Form()],
    unit: Annotated[str, Form(max_length=128)] = "",
    street: Annotated[str, Form(max_length=128)] = "",
    district: Annotated[str, Form(max_length=128)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    field = SCOPE_FIELD[role]
    scope = {"unit": unit, "street": street, "district": district}.get(field or "", "") or None
    try:
        account, password = await console_of(request).accounts.add(
            username, role, scope, phone=phone
        )
    except AccountError as error:
        return await page(request, person, error=str(error), status_code=400)
    audit(person, "account_add", account=account.username, account_role=role.value)
    return await page(
        request,
        person,
        notice=f"已创建账号 {account.username}",
        shown_password=(account.username, password),
    )


@router.post("/accounts/{username}/disable", dependencies=[Depends(check_csrf)])
async def disable_account(request: Request, person: Admin, username: str) -> Response:
    return await _set_disabled(request, person, username, disabled=True)


@router.post("/accounts/{username}/enable", dependencies=[Depends(check_csrf)])
async def enable_account(request: Request, person: Admin, username: str) -> Response:
    return await _set_disabled(request, person, username, disabled=False)


async def _set_disabled(
    request: Request, person: Admin, username: str, *, disabled: bool
) -> Response:
    if disabled and username == person.username:
        return await page(request, person, error="不能停用自己的账号", status_code=400)
    try:
        account = await console_of(request).accounts.set_disabled(username, disabled)
    except AccountError as error:
        return await page(request, person, error=str(error), status_code=404)
    audit(person, "account_disable" if disabled else "account_enable", account=account.username)
    done = "已停用" if disabled else "已启用"
    return await page(request, person, notice=f"{done}账号 {account.username}")


@router.post("/accounts/{username}/reset", dependencies=[Depends(check_csrf)])
async def reset_password(request: Request, person: Admin, username: str) -> Response:
    try:
        account, password = await console_of(request).accounts.reset(username)
    except AccountError as error:
        return await page(request, person, error=str(error), status_code=404)
    audit(person, "account_reset", account=account.username)
    return await page(
        request,
        person,
        notice=f"已重置 {account.username} 的密码",
        shown_password=(account.username, password),
    )
