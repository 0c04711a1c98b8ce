"""A map without the internet: the directory's street and grid outlines (the router
publishes them in the `places` bucket) drawn as inline SVG, with pins, shading and marks.

No tiles, no script, no library: a plain equirectangular projection (longitude scaled by
cos(latitude), so a square block looks square at Beijing's latitude), good enough at the
size of a district. Shared by the console (pins for tickets) and supervision (the command
centre's big screen: places shaded by their load, hotspots marked), so neither imports the
other. Returns a plain string of SVG: every name and code in it is escaped here, and the
caller marks it safe for its templates.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from chuishao.common.domain import Location
from chuishao.common.place_names import PlaceName

Point = tuple[float, float]  # (long, lat)

WIDTH = 600.0  # the viewBox width; the SVG scales to its box (width: 100%)
PAD = 12.0


@dataclass(frozen=True)
class Pin:
    long: float
    lat: float
    label: str = ""
    href: str | None = None  # a link (the queue's pins open their ticket)


@dataclass(frozen=True)
class Mark:
    """A warning sign on a place's centre (the big screen's hotspots)."""

    code: str  # the place it marks
    label: str  # its tooltip
    kind: str = "hotspot"  # its CSS class
    size: float = 1.0  # × the default size (a wall screen wants it larger)


def _e(text: str) -> str:
    return escape(text, quote=True)


def where(location: Location, places: Iterable[PlaceName]) -> Point | None:
    """The point to pin: the reported coordinates, else the centre of its grid."""
    if location.lat is not None and location.long is not None:
        return (location.long, location.lat)
    if location.grid_code:
        for place in places:
            if place.code == location.grid_code:
                return centre(place)
    return None


def centre(place: PlaceName) -> Point | None:
    if place.centroid is not None:
        return place.centroid
    if place.polygon:
        longs = [p[0] for p in place.polygon]
        lats = [p[1] for p in place.polygon]
        return (sum(longs) / len(longs), sum(lats) / len(lats))
    return None


def _widened(points: Sequence[Point], margin: float) -> list[Point]:
    """The bounding box of `points` grown by `margin` of its size on every side."""
    longs = [p[0] for p in points]
    lats = [p[1] for p in points]
    dx = (max(longs) - min(longs)) * margin
    dy = (max(lats) - min(lats)) * margin
    return [(min(longs) - dx, min(lats) - dy), (max(longs) + dx, max(lats) + dy)]


class MapProjection:
    def __init__(self, points: Sequence[Point]) -> None:
        longs = [p[0] for p in points]
        lats = [p[1] for p in points]
        self.west, self.east = min(longs), max(longs)
        self.south, self.north = min(lats), max(lats)
        self.kx = math.cos(math.radians((self.south + self.north) / 2))
        span_x = max((self.east - self.west) * self.kx, 1e-6)
        span_y = max(self.north - self.south, 1e-6)
        self.scale = (WIDTH - 2 * PAD) / span_x
        self.height = span_y * self.scale + 2 * PAD

    def __call__(self, point: Point) -> Point:
        x = PAD + (point[0] - self.west) * self.kx * self.scale
        y = PAD + (self.north - point[1]) * self.scale
        return (round(x, 1), round(y, 1))


def _path(projection: MapProjection, ring: Sequence[Point]) -> str:
    return " ".join(f"{x},{y}" for x, y in map(projection, ring))


def _polygon(projection: MapProjection, place: PlaceName, classes: str, note: str | None) -> str:
    title = place.name + (f"：{note}" if note else "")
    return (
        f'<polygon class="{_e(classes)}" data-code="{_e(place.code)}" '
        f'points="{_path(projection, place.polygon or ())}"><title>{_e(title)}'
        "</title></polygon>"
    )


def svg_map(
    places: Iterable[PlaceName],
    pins: Sequence[Pin] = (),
    *,
    street: str | None = None,
    title: str = "位置示意图",
    picker: bool = False,
    shading: Mapping[str, str] | None = None,
    notes: Mapping[str, str] | None = None,
    figures: Mapping[str, str] | None = None,
    marks: Sequence[Mark] = (),
) -> str:
    """The streets (named) and grids of the directory with `pins`; `street` is shaded as
    the ticket's own (and framed). Empty when the directory has no outlines at all. A
    `picker` carries its projection, so a tap can be turned back into a point
    (resident.js). By place code: `shading` adds CSS classes to its outline, `notes` text
    to its tooltip, `figures` a short text on its centre; `marks` are drawn on the centre
    of their place."""
    shading = shading or {}
    notes = notes or {}
    figures = figures or {}
    all_places = list(places)
    streets = [p for p in all_places if p.kind == "street" and p.polygon]
    grids = [p for p in all_places if p.kind == "grid" and p.polygon]
    if not streets and not grids:
        return ""
    # The frame: the ticket's own street (and its pins) with a margin showing the
    # neighbours' edges, else every outline — a district of four streets is too small to
    # read on a phone once its one street matters.
    own = [p for p in streets if p.code == street]
    framed = own or [*streets, *grids]
    outline = [pt for p in framed for pt in p.polygon or ()]
    points = outline + [(pin.long, pin.lat) for pin in pins]
    if own:
        points = _widened(points, 0.12)
    projection = MapProjection(points)
    unit = WIDTH / 600  # marker and label sizes scale with the picture
    inverse = (
        f' data-west="{projection.west!r}" data-north="{projection.north!r}" '
        f'data-kx="{projection.kx!r}" data-scale="{projection.scale!r}" data-pad="{PAD!r}"'
        if picker
        else ""
    )
    parts: list[str] = [
        f'<svg class="map{" picker" if picker else ""}" viewBox="0 0 {WIDTH:.0f} '
        f'{projection.height:.0f}"{inverse} role="img" aria-label="{_e(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(title)}</title>",
        # Outlines beyond the frame are cut at its edge.
        f'<clipPath id="map-frame"><rect width="{WIDTH:.0f}" height="{projection.height:.0f}"/>'
        '</clipPath><g clip-path="url(#map-frame)">',
    ]
    for place in streets:
        classes = " ".join(
            c
            for c in ("street", "own" if place.code == street else "", shading.get(place.code))
            if c
        )
        parts.append(_polygon(projection, place, classes, notes.get(place.code)))
    for place in grids:
        classes = " ".join(c for c in ("grid", shading.get(place.code)) if c)
        parts.append(_polygon(projection, place, classes, notes.get(place.code)))
    for place in streets:
        middle = centre(place)
        if middle is not None:
            x, y = projection(middle)
            parts.append(
                f'<text class="street-name" x="{x}" y="{y}" text-anchor="middle" '
                f'font-size="{22 * unit:.0f}">{_e(place.name)}</text>'
            )
    if own:  # zoomed in on a street: its grids are named too, smaller
        west, south = min(p[0] for p in outline), min(p[1] for p in outline)
        east, north = max(p[0] for p in outline), max(p[1] for p in outline)
        for place in grids:
            middle = centre(place)
            if middle is not None and west < middle[0] < east and south < middle[1] < north:
                x, y = projection(middle)
                parts.append(
                    f'<text class="grid-name" x="{x}" y="{y + 30 * unit:.1f}" '
                    f'text-anchor="middle" font-size="{14 * unit:.0f}">{_e(place.name)}</text>'
                )
    by_code = {place.code: place for place in [*streets, *grids]}
    for code, text in sorted(figures.items()):
        figured = by_code.get(code)
        middle = centre(figured) if figured is not None else None
        if middle is not None:
            x, y = projection(middle)
            parts.append(
                f'<text class="figure" data-code="{_e(code)}" x="{x}" y="{y - 8 * unit:.1f}" '
                f'text-anchor="middle" font-size="{18 * unit:.0f}">{_e(text)}</text>'
            )
    parts.append("</g>")
    for mark in marks:
        marked = by_code.get(mark.code)
        middle = centre(marked) if marked is not None else None
        if middle is None:
            continue
        x, y = projection(middle)
        # A warning triangle just below the place's centre (and its figure).
        parts.append(
            f'<g class="mark {_e(mark.kind)}" data-code="{_e(mark.code)}" '
            f'transform="translate({x},{y + 20 * unit * mark.size:.1f}) '
            f'scale({unit * mark.size:.2f})">'
            '<path d="M0,-17 L15,9 L-15,9 Z"/>'
            '<text y="6" text-anchor="middle" font-size="16">!</text>'
            f"<title>{_e(mark.label)}</title></g>"
        )
    for pin in pins:
        x, y = projection((pin.long, pin.lat))
        # A drop-shaped marker whose tip is on the point.
        marker = (
            f'<g class="pin" transform="translate({x},{y}) scale({2 * unit:.2f})">'
            '<path d="M0,0 C-3,-8 -9,-11 -9,-17 A9,9 0 1 1 9,-17 C9,-11 3,-8 0,0 Z"/>'
            '<circle cx="0" cy="-17" r="3.5" class="pin-dot"/>'
            f"<title>{_e(pin.label)}</title></g>"
        )
        if pin.href:
            marker = f'<a href="{_e(pin.href)}">{marker}</a>'
        parts.append(marker)
    parts.append("</svg>")
    return "".join(parts)
