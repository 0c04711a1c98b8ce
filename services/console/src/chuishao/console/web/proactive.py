"""主动立案 (未诉先办): a command centre (street, district, city) opens a proactive ticket
from a hotspot warning or a row of the monthly report's 每月一题. The form comes
prefilled (category, grid, a description saying why) and offers the grids of the
person's own streets only; the ticket is filed through intake as the person, with
channel `proactive`, and routed and dispatched like any other report. Intake refuses
it for anyone else, or for a grid of another street (chuishao.intake.proactive): the
console's own check is for showing, not the guard.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chuishao.common.domain import Channel
from chuishao.common.errors import ApiError
from chuishao.common.place_names import street_of
from chuishao.console.audit import audit
from chuishao.console.auth import Person, check_csrf, console_of
from chuishao.console.service import Console
from chuishao.console.web import templates
from chuishao.console.web.centre import Centre
from chuishao.console.web.centre_places import scope_name, streets_of
from chuishao.console.web.wording import span

router = APIRouter()
CSRF = [Depends(check_csrf)]
Code = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]


def own_grids(console: Console, person: Person) -> dict[str, str]:
    """grid code → 青石街道 · 和园南网格: the grids of the person's streets (every grid for
    the city), by street then name."""
    places = {p.code: p for p in console.places.all()}
    streets = streets_of(console, person)
    grids = []
    for place in places.values():
        street = street_of(places, place.code) if place.kind == "grid" else None
        if street is not None and (streets is None or street in streets):
            grids.append((console.place_name(street), place.name, place.code))
    return {code: f"{street} · {name}" for street, name, code in sorted(grids)}


def not_yours(grid: str) -> ApiError:
    return ApiError(
        403,
        "street_not_in_scope",
        f"网格 {grid} 不在本辖区，只能为本辖区主动立案",
        f"Grid {grid} is not on your streets; open proactive tickets on your own only",
        field="grid",
    )


def reason(
    console: Console,
    grid: str,
    category: str,
    origin: str,
    month: str,
    reports: int,
    count: int,
    window: int,
) -> str:
    """The description a prefilled form starts with: why the centre opens it."""
    where, what = console.place_name(grid), console.category_name(category)
    if origin == "hotspot" and count:
        why = f"预警：{where}{span(window) if window else ''}内{what}反映 {count} 起"
    elif origin == "problem" and reports:
        why = f"每月一题：{month} {where}{what}被反映 {reports} 次"
    else:
        return ""
    return f"主动治理（未诉先办）。{why}，请对该网格同类问题统一排查处置。"


@router.get("/centre/proactive", response_class=HTMLResponse)
async def proactive_form(
    request: Request,
    person: Centre,
    grid: Code = "",
    category: Code = "",
    origin: Annotated[str, Query(alias="from", pattern="^(hotspot|problem)?$")] = "",
    month: Annotated[str, Query(max_length=7)] = "",
    reports: Annotated[int, Query(ge=0, le=100_000)] = 0,
    count: Annotated[int, Query(ge=0, le=100_000)] = 0,
    window: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """The filing form, prefilled from the warning or the 每月一题 row it was opened from."""
    console = console_of(request)
    grids = own_grids(console, person)
    if grid and grid not in grids:
        raise not_yours(grid)
    context: dict[str, Any] = {
        "scope": scope_name(console, person),
        "grids": grids,
        "groups": console.category_groups(),
        "grid": grid,
        "category": category,
        "description": reason(console, grid, category, origin, month, reports, count, window),
        "origin": origin,
    }
    return templates.TemplateResponse(request, "centre/proactive.html", context)


@router.post("/centre/proactive", dependencies=CSRF)
async def open_proactive(
    request: Request,
    person: Centre,
    grid: Annotated[str, Form(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    category: Annotated[str, Form(max_length=64, pattern=r"^[a-z0-9_]+$")],
    description: Annotated[str, Form(min_length=1, max_length=4000)],
    address: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """File it through intake as the person: channel proactive, the grid as its place."""
    console = console_of(request)
    if grid not in own_grids(console, person):
        raise not_yours(grid)
    body = {
        "category": category,
        "description": description.strip(),
        "channel": Channel.PROACTIVE.value,
        "location": {"grid_code": grid, "address": address.strip() or console.place_name(grid)},
    }
    accepted = await console.intake.post("/api/v1/reports", person, json=body)
    ticket_id = str(accepted["ticket_id"])
    audit(person, "proactive_ticket", ticket=ticket_id, grid=grid, category=category)
    return RedirectResponse(f"/centre?done=proactive&t={ticket_id}", status_code=303)
