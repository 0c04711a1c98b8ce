"""The big screen's data: the scripted day moved to end an hour ago (so this month's
ranking has rows and its hotspot is still in its window), and more open tickets over the
district's grids, some overdue, so the map has something to shade."""

from datetime import UTC, datetime, timedelta

from chuishao.common.domain import ClockKind, Level
from chuishao.common.events import Event
from support.supervision import Script, scripted_day

# grid → (street, community unit, open tickets, of them overdue)
LOADS = {
    "SQ-01": ("qingshi", "grid-shiqiao", 4, 0),
    "XY-02": ("qingshi", "grid-xiyuan", 1, 0),
    "LY-01": ("liuan", "zhifa-liuan", 11, 2),
    "BH-02": ("liuan", "wuyeban-liuan", 2, 0),
    "JX-01": ("yunmen", "cg-yunxi", 6, 5),
    "NL-01": ("qingshan", "cg-yunxi", 3, 1),
}
# Each grid's tickets take these categories in turn, 7 h apart: one category comes back
# after 42 h, past the hotspot window below, so none of them is a hotspot.
CATEGORIES = (
    "road_damage",
    "garbage_sanitation",
    "illegal_parking",
    "street_light",
    "oil_fumes_noise",
    "manhole_cover",
)
HOTSPOT_GRID = "HY-01"  # the scripted day's three fire boxes of 和园南网格 within 24 h
HOTSPOT_SETTINGS = {
    "hotspot_threshold": 3,
    "hotspot_jump_factor": 0.0,
    "hotspot_window_hours": 36.0,
}


def busy_district() -> Script:
    s = scripted_day("S")
    loaded = Script("L")
    for grid, (street, unit, count, overdue) in LOADS.items():
        for n in range(count):
            # Ending before the scripted day ends (52 h), which the hotspot must outlast.
            name, hours = f"{grid}-{n}", 50.0 - n * 7.0
            category = CATEGORIES[n % len(CATEGORIES)]
            loaded.submit(name, hours, category, grid)
            loaded.dispatch(name, hours + 0.01, unit, category=category, street=street, grid=grid)
            if n < overdue:
                loaded.arm(name, hours + 0.02, ClockKind.RESOLUTION, Level.COMMUNITY, 1)
                loaded.breach(name, hours + 1.1, ClockKind.RESOLUTION, Level.COMMUNITY, hours + 1)
    s.events = sorted([*s.events, *loaded.events], key=lambda e: e.occurred_at)
    return s


def ending_before(events: list[Event], gap: timedelta = timedelta(hours=1)) -> list[Event]:
    """The same events moved in time so that the last happened `gap` before now."""
    delta = datetime.now(UTC) - gap - max(event.occurred_at for event in events)
    moved = []
    for event in events:
        update: dict[str, object] = {"occurred_at": event.occurred_at + delta}
        deadline = getattr(event, "deadline", None)
        if isinstance(deadline, datetime):
            update["deadline"] = deadline + delta
        moved.append(event.model_copy(update=update))
    return moved
