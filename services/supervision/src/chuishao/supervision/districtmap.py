"""The big screen's district map: the directory's streets and grids (drawn offline by
chuishao.common.svgmap) shaded by their open and overdue tickets, with the hotspots still
in their window marked on their grid (docs/supervision.md, "The big screen").

Pure: the places, the board's counts and hotspots in, SVG and a legend out. The counts are
the projection's `open` and `overdue` counters of `street:<code>` and `grid:<code>`
(period `all`), so the map is rebuilt from the stream like every other figure.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from chuishao.common.place_names import PlaceName
from chuishao.common.svgmap import Mark, svg_map
from chuishao.supervision.board import Board, HotspotItem, MapKind, PlaceLoad

# The lower bounds of each shade: 1–2 open tickets is open-1, 3–9 open-2, 10+ open-3.
# Any overdue ticket outranks the open ones: a place with one overdue ticket is
# overdue-1 however many others are open — what a command centre must see first.
OPEN_STEPS = (1, 3, 10)
OVERDUE_STEPS = (1, 2, 5)
QUIET = "load-0"


def _step(count: int, steps: Sequence[int]) -> int:
    """How many of the `steps` `count` reaches (0: below the first)."""
    return sum(count >= bound for bound in steps)


def shade(open_tickets: int, overdue: int) -> str:
    """The CSS class of a place with these counts: overdue-N, else open-N, else load-0."""
    if (level := _step(overdue, OVERDUE_STEPS)) > 0:
        return f"overdue-{level}"
    if (level := _step(open_tickets, OPEN_STEPS)) > 0:
        return f"open-{level}"
    return QUIET


def _range(steps: Sequence[int], index: int) -> str:
    low = steps[index]
    if index + 1 == len(steps):
        return f"≥{low}"
    high = steps[index + 1] - 1
    return str(low) if high == low else f"{low}–{high}"


@dataclass(frozen=True)
class LegendEntry:
    css: str  # the shade's class (or "hotspot")
    label: str


def legend() -> list[LegendEntry]:
    """The map's key, in Chinese, from the same steps as `shade`."""
    entries = [LegendEntry(QUIET, "无在办工单")]
    entries += [
        LegendEntry(f"open-{i + 1}", f"在办 {_range(OPEN_STEPS, i)} 件")
        for i in range(len(OPEN_STEPS))
    ]
    entries += [
        LegendEntry(f"overdue-{i + 1}", f"超期 {_range(OVERDUE_STEPS, i)} 件")
        for i in range(len(OVERDUE_STEPS))
    ]
    entries.append(LegendEntry("hotspot", "热点预警（预警窗口内）"))
    return entries


def in_scope(places: Iterable[PlaceName], streets: Collection[str] | None) -> list[PlaceName]:
    """The streets and grids a viewer of `streets` (None: everything) sees on the map: a
    grid belongs to the street of its community."""
    every = list(places)
    if streets is None:
        return [p for p in every if p.kind in ("street", "grid")]
    parent = {p.code: p.parent for p in every}
    kept = []
    for place in every:
        if place.kind == "street" and place.code in streets:
            kept.append(place)
        elif place.kind == "grid":
            community = place.parent
            if community is not None and parent.get(community) in streets:
                kept.append(place)
    return kept


def mapped(
    places: Iterable[PlaceName], streets: Collection[str] | None
) -> list[tuple[MapKind, str]]:
    """(kind, code) of the places `in_scope`: whose load the board reads."""
    return [("street" if p.kind == "street" else "grid", p.code) for p in in_scope(places, streets)]


def active_hotspots(board: Board) -> list[HotspotItem]:
    """The warnings whose window has not yet passed at the board's moment."""
    return [h for h in board.hotspots if h.at + timedelta(seconds=h.window_seconds) >= board.as_of]


def note(load: PlaceLoad | None) -> str:
    if load is None:
        return "无在办工单"
    return f"在办 {load.open} 件，超期 {load.overdue} 件"


def draw(places: Iterable[PlaceName], board: Board) -> str:
    """The board's map as SVG (empty when the directory has no outlines)."""
    shown = in_scope(places, board.scope_streets)
    loads = {load.code: load for load in board.places}
    shading = {}
    notes = {}
    figures = {}
    for place in shown:
        load = loads.get(place.code)
        shading[place.code] = shade(load.open, load.overdue) if load else QUIET
        notes[place.code] = note(load)
        # Grids carry their figure (streets carry their name): 在办 / 超期.
        if load is not None and place.kind == "grid" and (load.open or load.overdue):
            figures[place.code] = f"{load.open}" + (f" · 超{load.overdue}" if load.overdue else "")
    names = board.category_names
    marks: dict[str, list[str]] = {}
    for hotspot in active_hotspots(board):
        hours = max(round(hotspot.window_seconds / 3600), 1)
        marks.setdefault(hotspot.grid, []).append(
            f"热点预警：{names.get(hotspot.category, hotspot.category)} "
            f"{hotspot.count} 件 / {hours} 小时（阈值 {hotspot.threshold}）"
        )
    one_street = (
        board.scope_streets[0] if board.scope_streets and len(board.scope_streets) == 1 else None
    )
    return svg_map(
        shown,
        street=one_street,
        title=f"{board.scope}工单分布图",
        shading=shading,
        notes=notes,
        figures=figures,
        marks=[Mark(code, "；".join(labels), size=1.6) for code, labels in sorted(marks.items())],
    )
