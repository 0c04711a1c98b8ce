"""HTTP: the command-centre page with its live stream, the JSON read API, the figures a
district publishes, /metrics. Every read path but /api/v1/public, /health, /metrics and —
when the district publishes its ranking (`public_report`) — the monthly report and its
exports needs a credential (chuishao.supervision.access) and shows that credential's
scope."""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel

from chuishao.common.errors import ApiError, ErrorResponse
from chuishao.supervision.access import (
    COOKIE,
    ViewerScope,
    credential_of,
    narrowed,
    out_of_scope,
    unauthorised,
)
from chuishao.supervision.board import BadPeriod, Board
from chuishao.supervision.exports import csv_lines, file_chunks, xlsx_file
from chuishao.supervision.keys import ALL_PERIODS
from chuishao.supervision.rates import Rates
from chuishao.supervision.report import MonthlyReport
from chuishao.supervision.service import Supervision

router = APIRouter()
Period = Annotated[str, Query(description="all, a day YYYY-MM-DD or a month YYYY-MM")]
Street = Annotated[
    str | None, Query(description="one street of your scope (its code), e.g. qingshi")
]
DisplayToken = Annotated[
    str | None, Query(description="a wall screen's display token, exchanged for a cookie")
]
HEARTBEAT_SECONDS = 15.0
REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "no or unknown credential"},
    403: {"model": ErrorResponse, "description": "not a supervisor, or outside its scope"},
}


def supervision_of(request: Request) -> Supervision:
    service: Supervision = request.app.state.supervision
    return service


async def viewer(request: Request, street: Street = None) -> ViewerScope:
    """The scope of the request's credential, narrowed to `?street=` when given."""
    service = supervision_of(request)
    scope = await service.access.scope_of(credential_of(request))
    if scope is None:
        raise unauthorised()
    return narrowed(service.access, scope, street)


Viewer = Annotated[ViewerScope, Depends(viewer)]


def public_scope(service: Supervision) -> ViewerScope:
    """The whole area, named after the district (or the city of several districts)."""
    places = service.access.places.all()
    districts = [p for p in places if p.kind == "district"]
    tops = districts if len(districts) == 1 else [p for p in places if p.kind == "city"]
    return ViewerScope(label=tops[0].name if tops else "全区", everything=True)


async def report_viewer(request: Request, street: Street = None) -> ViewerScope:
    """The report's reader: a credential's scope, or — without one, when the district
    publishes its ranking — the whole district (the report holds aggregates only)."""
    service = supervision_of(request)
    credential = credential_of(request)
    if credential is None and service.settings.public_report:
        return narrowed(service.access, public_scope(service), street)
    return await viewer(request, street)


ReportViewer = Annotated[ViewerScope, Depends(report_viewer)]


# A period the figures cannot be read for, by the field that named it: the refusal's
# code and words. One 422 for both, so the board's period and the report's month differ
# only in what they say.
PERIOD_REFUSALS = {
    "period": ("bad_period", "统计期应为 all、某日 YYYY-MM-DD 或某月 YYYY-MM。"),
    "month": ("bad_month", "月份应为 YYYY-MM 格式的真实月份，例如 2026-01。"),
}


def bad(field: str, error: BadPeriod) -> ApiError:
    code, message_zh = PERIOD_REFUSALS[field]
    return ApiError(422, code, message_zh, str(error), field=field)


async def _board(request: Request, scope: ViewerScope, period: str) -> Board:
    try:
        return await supervision_of(request).board(scope, period)
    except BadPeriod as error:
        raise bad("period", error) from error


# --- the page, and signing in


def _set_cookie(request: Request, response: Response, credential: str) -> None:
    response.set_cookie(
        COOKIE,
        credential,
        max_age=supervision_of(request).settings.display_cookie_days * 86400,
        httponly=True,  # no script reads it; the live stream sends it by itself
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _login_page(request: Request, status: int, message: str = "") -> HTMLResponse:
    html = supervision_of(request).renderer.login(message)
    return HTMLResponse(html, status_code=status)


@router.get("/", response_class=HTMLResponse, tags=["page"])
async def page(
    request: Request,
    period: Period = ALL_PERIODS,
    street: Street = None,
    token: DisplayToken = None,
) -> Response:
    service = supervision_of(request)
    if token is not None:
        # A wall screen's URL carries its token once: keep it in an HttpOnly cookie and
        # take it out of the address bar (and the browser history).
        if await service.access.scope_of(token) is None:
            return _login_page(request, 401, "令牌无效或已吊销 The token is unknown or revoked.")
        url = request.url.remove_query_params("token")
        response = RedirectResponse(url.path + (f"?{url.query}" if url.query else ""), 303)
        _set_cookie(request, response, token)
        return response
    scope = await service.access.scope_of(credential_of(request))
    if scope is None:
        return _login_page(request, 401)
    board = await _board(request, narrowed(service.access, scope, street), period)
    return HTMLResponse(
        service.renderer.page(board, street, service.settings.board_refresh_seconds)
    )


@router.post("/login", response_class=HTMLResponse, tags=["page"], include_in_schema=False)
async def login(request: Request) -> Response:
    """The sign-in form: a command centre's API key or a display token."""
    form = parse_qs((await request.body()).decode(errors="replace"))
    credential = (form.get("credential") or [""])[0].strip()
    if await supervision_of(request).access.scope_of(credential) is None:
        return _login_page(request, 401, "密钥或令牌无效 The key or token is not valid.")
    response = RedirectResponse("/", 303)
    _set_cookie(request, response, credential)
    return response


@router.post("/logout", tags=["page"], include_in_schema=False)
async def logout() -> Response:
    response = RedirectResponse("/", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/board", response_class=HTMLResponse, tags=["page"], responses=REFUSALS)
async def board_fragment(request: Request, scope: Viewer, period: Period = ALL_PERIODS) -> str:
    return supervision_of(request).renderer.board(await _board(request, scope, period))


def _event(name: str, html: str) -> str:
    # An SSE data field ends at a newline: each line of the fragment is its own field.
    data = "\n".join(f"data: {line}" for line in html.splitlines())
    return f"event: {name}\n{data}\n\n"


@router.get("/board/stream", tags=["page"], responses=REFUSALS)
async def board_stream(
    request: Request, scope: Viewer, period: Period = ALL_PERIODS, street: Street = None
) -> StreamingResponse:
    """Server-sent events: the board fragment, again whenever it changes. Ends (with an
    `signed_out` event) once the credential no longer holds, e.g. a revoked token."""
    service = supervision_of(request)
    await _board(request, scope, period)  # refuse a bad period before the stream starts
    refresh = service.settings.board_refresh_seconds
    recheck = service.settings.board_recheck_seconds
    credential = credential_of(request)

    async def still_allowed() -> bool:
        try:
            return await service.access.scope_of(credential) is not None
        except ApiError:
            return False

    async def frames() -> AsyncIterator[str]:
        last, quiet, unchecked = "", 0.0, 0.0
        while not await request.is_disconnected():
            if unchecked >= recheck:
                unchecked = 0.0
                if not await still_allowed():
                    yield _event("signed_out", "")
                    return
            html = service.renderer.board(await service.board(scope, period))
            if html != last:
                last, quiet = html, 0.0
                yield _event("board", html)
            elif quiet >= HEARTBEAT_SECONDS:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(refresh)
            quiet += refresh
            unchecked += refresh

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- JSON


@router.get("/api/v1/board", tags=["read"], responses=REFUSALS)
async def board_json(request: Request, scope: Viewer, period: Period = ALL_PERIODS) -> Board:
    return await _board(request, scope, period)


@router.get("/api/v1/rates", tags=["read"], responses=REFUSALS)
async def rates(
    request: Request,
    viewer_scope: Viewer,
    scope: Annotated[
        str, Query(description="all, unit:<id>, street:<code>, grid:<code>, category:<code>")
    ] = "all",
    period: Period = ALL_PERIODS,
) -> Rates:
    """The rates of one scope within the viewer's own: for a street's credential, `all`
    is its street(s) and `unit:<id>` that unit's part in its street's tickets."""
    reader = supervision_of(request).reader
    try:
        if viewer_scope.everything:
            return await reader.rates(scope, period)
        return await reader.rates(_within(request, viewer_scope, scope), period, label=scope)
    except BadPeriod as error:
        raise bad("period", error) from error


def _within(request: Request, viewer_scope: ViewerScope, scope: str) -> list[str]:
    """The counter scopes that make up `scope` for a viewer limited to some streets."""
    streets = sorted(viewer_scope.streets)
    kind, _, value = scope.partition(":")
    if scope == "all":
        return [f"street:{s}" for s in streets]
    if kind == "street":
        if value not in streets:
            raise out_of_scope(value)
        return [scope]
    if kind == "unit" and value:
        return [f"street_unit:{s}/{value}" for s in streets]
    if kind == "grid" and value:
        places = supervision_of(request).places
        grid = places.get(value)
        community = places.get(grid.parent) if grid and grid.parent else None
        if community is None or community.parent not in streets:
            raise out_of_scope(community.parent if community and community.parent else value)
        return [scope]
    raise ApiError(
        403,
        "scope_not_available",
        "本辖区的凭证可查询 all、street:、unit:、grid:。",
        "A credential limited to streets may ask for all, street:, unit: and grid: only.",
        field="scope",
    )


class PublicFigures(BaseModel):
    """What the district publishes: chosen rates, nothing that names a ticket or a unit."""

    period: str
    rates: dict[str, float | None]
    streets: dict[str, dict[str, float | None]] = {}
    street_names: dict[str, str] = {}


@router.get("/api/v1/public", tags=["public"], responses={404: {"model": ErrorResponse}})
async def public(request: Request, period: Period = ALL_PERIODS) -> PublicFigures:
    """The only figures anyone may read without a credential: the rates the district
    listed in CHUISHAO_PUBLIC_RATES (and per street with CHUISHAO_PUBLIC_PER_STREET)."""
    service = supervision_of(request)
    names = service.settings.public_rates
    if not names:
        raise ApiError(
            404,
            "nothing_published",
            "本区未公开任何统计数据。",
            "This district publishes no figures.",
        )
    try:
        totals = await service.reader.rates("all", period)
        streets = {}
        if service.settings.public_per_street:
            for row in await service.reader.rows("street", period):
                streets[row.id] = {name: getattr(row.rates, name) for name in names}
    except BadPeriod as error:
        raise bad("period", error) from error
    return PublicFigures(
        period=period,
        rates={name: getattr(totals, name) for name in names},
        streets=streets,
        street_names={code: service.access.name(code) for code in streets},
    )


# --- the monthly report (月度考核报告) and its exports

Month = Annotated[str, Path(description="a calendar month YYYY-MM, e.g. 2026-01")]


async def _report(request: Request, scope: ViewerScope, month: str) -> MonthlyReport:
    try:
        return await supervision_of(request).monthly_report(scope, month)
    except BadPeriod as error:
        raise bad("month", error) from error


def _attachment(month: str, suffix: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="chuishao-monthly-{month}.{suffix}"'}


@router.get("/reports/monthly", tags=["report"], response_class=RedirectResponse)
@router.get("/reports/monthly/", include_in_schema=False, response_class=RedirectResponse)
async def this_months_report(request: Request) -> RedirectResponse:
    """The report of the current month (in the service's time zone, by the stack clock)."""
    service = supervision_of(request)
    month = service.renderer.local_time(service.clock.now(), "%Y-%m")
    query = f"?{request.url.query}" if request.url.query else ""
    root = request.scope.get("root_path", "")
    return RedirectResponse(f"{root}/reports/monthly/{month}{query}", status_code=307)


@router.get(
    "/reports/monthly/{month}", response_class=HTMLResponse, tags=["report"], responses=REFUSALS
)
async def monthly_report_page(
    request: Request, month: Month, scope: ReportViewer, street: Street = None
) -> str:
    """The month's report for the viewer's scope: rates, score and rank per unit and per
    street against the month before, charts, definitions. Printable (A4)."""
    report = await _report(request, scope, month)
    return supervision_of(request).renderer.report(report, street)


@router.get("/api/v1/reports/monthly/{month}.xlsx", tags=["report"], responses=REFUSALS)
async def monthly_report_xlsx(request: Request, month: Month, scope: ReportViewer) -> Response:
    """The report as a workbook: a sheet of units and one of streets."""
    report = await _report(request, scope, month)
    file = await asyncio.to_thread(xlsx_file, report)
    return StreamingResponse(
        file_chunks(file),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=_attachment(report.month, "xlsx"),
    )


@router.get("/api/v1/reports/monthly/{month}.csv", tags=["report"], responses=REFUSALS)
async def monthly_report_csv(request: Request, month: Month, scope: ReportViewer) -> Response:
    """The report as CSV (UTF-8 with a BOM): units, then streets (column 层级)."""
    report = await _report(request, scope, month)
    return StreamingResponse(
        iter(csv_lines(report)),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(report.month, "csv"),
    )


@router.get("/api/v1/reports/monthly/{month}", tags=["report"], responses=REFUSALS)
async def monthly_report_json(request: Request, month: Month, scope: ReportViewer) -> MonthlyReport:
    return await _report(request, scope, month)


@router.get("/health", tags=["ops"])
async def health(request: Request) -> dict[str, str]:
    return await supervision_of(request).runtime.health()
