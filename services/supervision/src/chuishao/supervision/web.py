"""HTTP: the command-centre page with its live stream, the JSON read API, /metrics."""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from chuishao.supervision.board import BadPeriod, Board
from chuishao.supervision.keys import ALL_PERIODS
from chuishao.supervision.rates import Rates
from chuishao.supervision.service import Supervision

router = APIRouter()
Period = Annotated[str, Query(description="all, a day YYYY-MM-DD or a month YYYY-MM")]
HEARTBEAT_SECONDS = 15.0


def supervision_of(request: Request) -> Supervision:
    service: Supervision = request.app.state.supervision
    return service


async def _board(request: Request, period: str) -> Board:
    try:
        return await supervision_of(request).board(period)
    except BadPeriod as error:
        raise HTTPException(422, str(error)) from error


@router.get("/", response_class=HTMLResponse, tags=["page"])
async def page(request: Request, period: Period = ALL_PERIODS) -> HTMLResponse:
    service = supervision_of(request)
    board = await _board(request, period)
    return HTMLResponse(
        service.renderer.page(
            board, service.category_names(), service.settings.board_refresh_seconds
        )
    )


@router.get("/board", response_class=HTMLResponse, tags=["page"])
async def board_fragment(request: Request, period: Period = ALL_PERIODS) -> HTMLResponse:
    service = supervision_of(request)
    return HTMLResponse(
        service.renderer.board(await _board(request, period), service.category_names())
    )


def _event(name: str, html: str) -> str:
    # An SSE data field ends at a newline: each line of the fragment is its own field.
    data = "\n".join(f"data: {line}" for line in html.splitlines())
    return f"event: {name}\n{data}\n\n"


@router.get("/board/stream", tags=["page"])
async def board_stream(request: Request, period: Period = ALL_PERIODS) -> StreamingResponse:
    """Server-sent events: the board fragment, again whenever it changes."""
    service = supervision_of(request)
    await _board(request, period)  # refuse a bad period before the stream starts
    refresh = service.settings.board_refresh_seconds

    async def frames() -> AsyncIterator[str]:
        last, quiet = "", 0.0
        while not await request.is_disconnected():
            html = service.renderer.board(await service.board(period), service.category_names())
            if html != last:
                last, quiet = html, 0.0
                yield _event("board", html)
            elif quiet >= HEARTBEAT_SECONDS:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(refresh)
            quiet += refresh

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/api/v1/board", tags=["read"])
async def board_json(request: Request, period: Period = ALL_PERIODS) -> Board:
    return await _board(request, period)


@router.get("/api/v1/rates", tags=["read"])
async def rates(
    request: Request,
    scope: Annotated[
        str, Query(description="all, unit:<id>, street:<code>, grid:<code>, category:<code>")
    ] = "all",
    period: Period = ALL_PERIODS,
) -> Rates:
    try:
        return await supervision_of(request).reader.rates(scope, period)
    except BadPeriod as error:
        raise HTTPException(422, str(error)) from error


@router.get("/health", tags=["ops"])
async def health(request: Request) -> dict[str, str]:
    service = supervision_of(request)
    await service.redis.ping()
    return {"status": "ok" if service.broker.connection.is_connected else "degraded"}
