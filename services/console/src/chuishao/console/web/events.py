"""Live updates of the clerk's queue: server-sent events (`text/event-stream`) at
/events/clerk, so a new dispatch appears without a reload.

Why poll intake server-side rather than subscribe to `dept.<unit>.>` on NATS: the queue
is drawn from intake's record, and a dispatch event reaches a NATS subscriber before
intake has applied it, so a page told "new ticket" could fetch a queue that does not yet
show it (and would need retries). Asking intake — as the clerk, with the clerk's own
token — says "new" only once intake will show it, keeps the scope where every other read
is enforced (intake answers a clerk only with their unit's tickets; the console never
filters subjects itself), and needs no NATS permissions or subscription per page. The
cost is one indexed search per open queue page every POLL_SECONDS, which intake answers
from Redis sorted sets; a few hundred open pages are a few hundred cheap reads a second
at most. The stream ends when the session ends (logout, disabled account).

While the stream is open the console marks the unit present (chuishao.common.presence,
every BEAT_SECONDS): notify texts a unit's duty phone the report-in reminder only when no
page of its queue is open.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from nats.errors import Error as NatsError

from chuishao.common.presence import BEAT_SECONDS, mark_present
from chuishao.common.status import Status
from chuishao.console.auth import SESSION_COOKIE, Clerk, Person, console_of
from chuishao.console.intake_client import IntakeError
from chuishao.console.service import Console
from chuishao.console.web.clerk import OPEN_LIMIT, tab_of

log = structlog.get_logger()
router = APIRouter()

POLL_SECONDS = 2.0
KEEPALIVE_SECONDS = 20.0  # a comment line, so proxies do not close an idle stream


async def waiting(console: Console, person: Person) -> dict[str, int]:
    """The unit's tickets waiting for it to report for duty, with their versions (a
    change of version — reopened, re-dispatched — is news too). On a coordination
    whistle a ticket another unit already took is "in progress" yet waits for this one."""
    found: dict[str, int] = {}
    for status in (Status.DISPATCHED, Status.IN_PROGRESS):
        page = await console.intake.get(
            "/api/v1/tickets", person, params={"status": status.value, "limit": OPEN_LIMIT}
        )
        for ticket in page["items"]:
            if tab_of(ticket, person.unit) == "report":
                found[ticket["ticket_id"]] = int(ticket.get("version", 0))
    return found


async def beat(console: Console, unit: str) -> None:
    try:
        await mark_present(console.broker.connection.jetstream(), unit, console.clock.now())
    except (NatsError, TimeoutError) as error:  # the page works without it; the SMS goes
        log.warning("console_presence_not_marked", unit=unit, error=type(error).__name__)


def frame(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def queue_stream(request: Request, person: Person, known: set[str]) -> AsyncIterator[str]:
    console = console_of(request)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    seen: dict[str, int] | None = None
    quiet = 0.0
    beat_due = 0.0  # loop time of the next presence beat
    loop = asyncio.get_running_loop()
    yield "retry: 3000\n\n"
    while not await request.is_disconnected():
        if await console.sessions.get(session_id) is None:
            yield frame("logout", {})
            return
        if person.unit and loop.time() >= beat_due:
            # The unit's page is open: notify spares its duty phone the report-in SMS.
            beat_due = loop.time() + BEAT_SECONDS
            await beat(console, person.unit)
        try:
            now = await waiting(console, person)
        except IntakeError:
            now = None  # intake away for a moment: keep the stream, try again
        if now is not None:
            if seen is None:
                # The page was drawn with `known`: anything else already is news.
                seen = {ticket_id: now[ticket_id] for ticket_id in known if ticket_id in now}
            if now != seen:
                fresh = sorted(set(now) - set(seen))
                yield frame("queue", {"new": fresh, "waiting": len(now)})
                seen, quiet = now, 0.0
        quiet += POLL_SECONDS
        if quiet >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet = 0.0
        await asyncio.sleep(POLL_SECONDS)


@router.get("/events/clerk")
async def clerk_events(
    request: Request, person: Clerk, known: Annotated[str, Query(max_length=20_000)] = ""
) -> StreamingResponse:
    """`known`: the ids (comma-separated) the page already shows as waiting."""
    ids = {part for part in known.split(",") if part}
    return StreamingResponse(
        queue_stream(request, person, ids),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
