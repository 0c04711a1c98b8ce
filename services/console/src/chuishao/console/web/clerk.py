"""The clerk's workbench (/clerk): the unit's queue in tabs — 待签收, 办理中, 待群众补充,
已超期, 已办结 — each row with category, place, age and the next deadline.

Read from intake's ticket search as the clerk (intake scopes a clerk to the tickets sent
to their unit); the console keeps nothing. A ticket is put in a tab by the clerk's own
unit's part in it, not only by its status: on a coordination whistle the ticket stays
"dispatched" until every unit reported, but a unit that reported has it in progress.
"""

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from chuishao.common.status import Status
from chuishao.console.auth import Clerk, Person, console_of
from chuishao.console.service import Console
from chuishao.console.web import templates
from chuishao.console.web.wording import (
    CLOCKS,
    ROLES,
    STATUSES,
    WHISTLES,
    age,
    clock_time,
    iso,
    parse_time,
    until,
)

router = APIRouter()

TABS: tuple[tuple[str, str], ...] = (
    ("report", "待签收"),
    ("working", "办理中"),
    ("resident", "待群众补充"),
    ("overdue", "已超期"),
    ("done", "已办结"),
)
OPEN_LIMIT = 200  # intake's largest page; a unit with more open tickets sees the newest
DONE_LIMIT = 50  # the latest finished ones


@dataclass(frozen=True)
class TicketRow:
    ticket_id: str
    category: str
    place: str
    status: str
    age: str
    role: str
    whistle: str
    deadline_label: str  # which clock: 签收时限 …
    deadline_at: str  # 12月2日 21:05
    deadline_iso: str  # for the live countdown
    deadline_left: str  # 剩3小时 / 已超时20分钟 (the page's script keeps it current)
    late: bool
    reporting: bool  # the row counts down to the report-in deadline


def own_part(ticket: dict[str, Any], unit: str | None) -> dict[str, Any] | None:
    """The unit's active assignment on the ticket (None once it declined or transferred)."""
    return next(
        (a for a in ticket.get("assignments", []) if a["unit_id"] == unit and a.get("active")),
        None,
    )


def next_clock(ticket: dict[str, Any], unit: str | None) -> dict[str, Any] | None:
    """The earliest running clock that concerns the unit: its own, or the ticket's."""
    mine = [c for c in ticket.get("clocks", []) if c.get("unit_id") in (None, unit)]
    return min(mine, key=lambda c: str(iso(c["deadline"])), default=None)


def place_of(console: Console, ticket: dict[str, Any]) -> str:
    """青石街道 · 和园南网格, else the address the resident gave."""
    location = ticket.get("location") or {}
    names = [console.place_name(ticket.get("street"))] if ticket.get("street") else []
    if location.get("grid_code"):
        names.append(console.place_name(location["grid_code"]))
    if location.get("address") and len(names) < 2:
        names.append(str(location["address"]))
    return " · ".join(n for n in names if n) or "位置不详"


def row_of(console: Console, ticket: dict[str, Any], unit: str | None, now: datetime) -> TicketRow:
    part = own_part(ticket, unit) or {}
    clock = next_clock(ticket, unit)
    deadline = parse_time(clock["deadline"]) if clock else None
    return TicketRow(
        ticket_id=ticket["ticket_id"],
        category=console.category_name(ticket.get("category")),
        place=place_of(console, ticket),
        status=STATUSES.get(Status(ticket["status"]), ticket["status"]),
        age=age(ticket.get("submitted_at"), now),
        role=ROLES.get(part.get("role", ""), ""),
        whistle=WHISTLES.get(part.get("whistle", ""), ""),
        deadline_label=CLOCKS.get(clock["clock"], "") if clock else "",
        deadline_at=clock_time(deadline),
        deadline_iso=iso(deadline),
        deadline_left=until(deadline, now),
        late=deadline is not None and deadline < now,
        reporting=clock is not None and clock["clock"] == "report_for_duty",
    )


def tab_of(ticket: dict[str, Any], unit: str | None) -> str | None:
    """The tab a ticket belongs in for the unit (besides 已超期), None when not its own."""
    status = ticket["status"]
    part = own_part(ticket, unit)
    if status in (Status.RESOLVED, Status.CLOSED) or (part and part.get("signed_off_at")):
        return "done"
    if part is None:
        return None  # declined or transferred: no longer the unit's to do
    if status == Status.AWAITING_RESIDENT:
        return "resident"
    if part.get("acknowledged_at") is None:
        return "report"
    return "working"


async def fetch_queue(console: Console, person: Person) -> dict[str, list[dict[str, Any]]]:
    """The unit's tickets per tab, from intake (searches run together)."""
    searches: list[dict[str, Any]] = [
        {"status": Status.DISPATCHED.value, "limit": OPEN_LIMIT},
        {"status": Status.IN_PROGRESS.value, "limit": OPEN_LIMIT},
        {"status": Status.AWAITING_RESIDENT.value, "limit": OPEN_LIMIT},
        {"status": Status.RESOLVED.value, "limit": DONE_LIMIT},
        {"status": Status.CLOSED.value, "limit": DONE_LIMIT},
        {"overdue": "true", "limit": OPEN_LIMIT},
    ]
    pages = await asyncio.gather(
        *(console.intake.get("/api/v1/tickets", person, params=p) for p in searches)
    )
    tabs: dict[str, list[dict[str, Any]]] = {key: [] for key, _ in TABS}
    for page in pages[:-1]:
        for ticket in page["items"]:
            if (tab := tab_of(ticket, person.unit)) is not None:
                tabs[tab].append(ticket)
    tabs["overdue"] = [
        t for t in pages[-1]["items"] if tab_of(t, person.unit) not in (None, "done")
    ]
    # To report for duty: the nearest deadline first; the others newest first (intake's order).
    tabs["report"].sort(key=lambda t: str(iso((next_clock(t, person.unit) or {}).get("deadline"))))
    return tabs


async def queue_context(request: Request, person: Person, tab: str) -> dict[str, Any]:
    console = console_of(request)
    now = console.clock.now()
    tickets = await fetch_queue(console, person)
    tab = tab if tab in dict(TABS) else "report"
    return {
        "tabs": [(key, label, len(tickets[key])) for key, label in TABS],
        "tab": tab,
        "rows": [row_of(console, t, person.unit, now) for t in tickets[tab]],
        "unit_name": console.unit_name(person.unit),
        "known": [t["ticket_id"] for t in tickets["report"]],
        "now_iso": iso(now),
    }


@router.get("/clerk", response_class=HTMLResponse)
async def queue_page(
    request: Request, person: Clerk, tab: Annotated[str, Query()] = "report"
) -> Response:
    context = await queue_context(request, person, tab)
    return templates.TemplateResponse(request, "clerk/queue.html", context)


@router.get("/clerk/part", response_class=HTMLResponse)
async def queue_part(
    request: Request, person: Clerk, tab: Annotated[str, Query()] = "report"
) -> Response:
    """The tabs and the table only: what the page's script swaps in when a live event says
    the queue changed (no full reload, the clerk's scroll and open menu stay)."""
    context = await queue_context(request, person, tab)
    return templates.TemplateResponse(request, "clerk/_queue.html", context)
