"""The console's web app: the templates every screen extends, the error pages, the CSRF
cookie, the routers of each screen (login, clerk, tickets, centre, photos, events, admin,
and the residents' pages)."""

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException

from chuishao.common.errors import ApiError
from chuishao.common.metrics import metrics_endpoint
from chuishao.common.roles import ROLE_NAMES_ZH
from chuishao.console import auth
from chuishao.console.intake_client import IntakeError
from chuishao.console.service import Console

PACKAGE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=PACKAGE / "templates")


@pass_context
def _csrf_field(context: Any) -> Markup:
    return auth.csrf_field(context["request"])


templates.env.globals["csrf_field"] = _csrf_field
templates.env.globals["role_names"] = {role.value: name for role, name in ROLE_NAMES_ZH.items()}


HTTP_REFUSALS = {
    404: ("not_found", "找不到这个页面，请核对地址"),
    405: ("method_not_allowed", "不支持这种请求方式"),
}


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, code: str, message_zh: str) -> Response:
    """A refusal: a page for a person's browser, the one error shape for a program."""
    if wants_html(request):
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "code": code, "message": message_zh},
            status_code=status,
        )
    body = ApiError(status, code, message_zh, message_zh).body()
    return JSONResponse(body, status_code=status)


def create_app(console: Console) -> FastAPI:
    app = FastAPI(
        title="chuishao console",
        version="1.0.0",
        summary="工作台: the screens clerks and command centres work in",
        lifespan=console.runtime.lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.console = console

    @app.exception_handler(auth.LoginRequired)
    async def login_first(request: Request, error: auth.LoginRequired) -> Response:
        if request.method != "GET" or not wants_html(request):
            return error_page(request, 401, "login_required", "请先登录")
        return RedirectResponse(auth.login_redirect(error.next_path), status_code=303)

    @app.exception_handler(ApiError)
    async def refused(request: Request, error: ApiError) -> Response:
        if wants_html(request):
            return error_page(request, error.status, error.detail.code, error.detail.message_zh)
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    @app.exception_handler(IntakeError)
    async def intake_refused(request: Request, error: IntakeError) -> Response:
        return error_page(request, error.status, error.code, error.message_zh)

    @app.exception_handler(StarletteHTTPException)
    async def http_refused(request: Request, error: StarletteHTTPException) -> Response:
        """Starlette's own refusals (no such page, wrong method) in Chinese and our shape."""
        code, message = HTTP_REFUSALS.get(error.status_code, ("refused", "未能完成这个请求"))
        return error_page(request, error.status_code, code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid_form(request: Request, error: RequestValidationError) -> Response:
        return error_page(request, 422, "invalid", "表单内容不完整或有误，请检查后重新提交")

    @app.middleware("http")
    async def csrf_cookie(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """A browser without the pre-login CSRF cookie gets one (the login form repeats it)."""
        fresh = None
        if auth.CSRF_COOKIE not in request.cookies and not request.url.path.startswith("/static"):
            fresh = request.state.csrf_cookie = secrets.token_urlsafe(24)
        response = await call_next(request)
        if fresh is not None:
            response.set_cookie(
                auth.CSRF_COOKIE,
                fresh,
                httponly=True,
                samesite="strict",
                secure=console.settings.console_secure_cookies,
            )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return await console.runtime.health()

    app.mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static")
    # The screens import `templates` from this package, so they are imported here, once
    # it is initialised.
    from chuishao.console.web import (  # noqa: PLC0415
        admin,
        appeals,
        centre,
        clerk,
        events,
        hotline,
        knowledge,
        login,
        photos,
        points,
        proactive,
        resident,
        resident_points,
        suggest,
        tickets,
    )

    for screen in (
        login,
        clerk,
        tickets,
        appeals,
        centre,
        proactive,
        photos,
        events,
        admin,
        hotline,
        knowledge,
        points,
        # Before `resident`: its /r/<ticket> would take /r/points and /r/triage.
        resident_points,
        suggest,
        resident,
    ):
        app.include_router(screen.router)
    app.add_route("/metrics", metrics_endpoint(console.broker), include_in_schema=False)
    return app
