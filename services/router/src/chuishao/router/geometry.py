"""Shapes of places in metres, and a spatial index of the grids.

Degrees are projected onto a local plane around the directory's centre (equirectangular):
over a district or a city the error is far below a grid's size, and distances come out in
metres, which is what "nearest grid within 500 m" means.
"""

import math
from collections.abc import Iterable, Mapping

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from chuishao.router.places import Area, Coordinate

METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LONG_AT_EQUATOR = 111_320.0
# Shared borders drawn by hand never line up exactly; overlaps or gaps smaller than this
# (in metres) are drawing noise, not errors.
TOLERANCE_M = 1.0


class LocalPlane:
    def __init__(self, centre_lat: float) -> None:
        self.x_scale = METRES_PER_DEGREE_LONG_AT_EQUATOR * math.cos(math.radians(centre_lat))

    def point(self, long: float, lat: float) -> Point:
        return Point(long * self.x_scale, lat * METRES_PER_DEGREE_LAT)

    def polygon(self, ring: tuple[Coordinate, ...]) -> Polygon:
        return Polygon([(long * self.x_scale, lat * METRES_PER_DEGREE_LAT) for long, lat in ring])

    def shape(self, area: Area) -> BaseGeometry | None:
        """The area's polygon, else its centroid as a point, else None."""
        if area.polygon is not None:
            return self.polygon(area.polygon)
        if area.centroid is not None:
            return self.point(*area.centroid)
        return None

    def shapes(self, areas: Iterable[Area]) -> dict[str, BaseGeometry]:
        """Every area's shape by code, built in one vectorised call: a city has tens of
        thousands of grids, and one Polygon() at a time took seconds."""
        areas = list(areas)
        rings = [area for area in areas if area.polygon is not None]
        found: dict[str, BaseGeometry] = {}
        if rings:
            coordinates = np.array(
                [point for area in rings for point in area.polygon or ()], dtype=float
            )
            coordinates *= (self.x_scale, METRES_PER_DEGREE_LAT)
            owner = np.repeat(np.arange(len(rings)), [len(area.polygon or ()) for area in rings])
            built: np.ndarray = shapely.polygons(  # type: ignore[assignment]  # array in, array out
                shapely.linearrings(coordinates, indices=owner)
            )
            polygons: list[BaseGeometry] = list(built)
            found.update(zip((area.code for area in rings), polygons, strict=True))
        for area in areas:
            if area.polygon is None and area.centroid is not None:
                found[area.code] = self.point(*area.centroid)
        return found

    @classmethod
    def around(cls, areas: list[Area]) -> "LocalPlane":
        lats = [lat for area in areas for _, lat in (area.polygon or ()) + _centroid(area)]
        return cls(sum(lats) / len(lats) if lats else 0.0)


def _centroid(area: Area) -> tuple[Coordinate, ...]:
    return (area.centroid,) if area.centroid is not None else ()


def invalid_reason(shape: BaseGeometry) -> str | None:
    if shape.is_valid:
        return None
    return explain_validity(shape)


def widen(shape: BaseGeometry) -> BaseGeometry:
    """The shape grown by the drawing tolerance, to test what lies within it."""
    return shape.buffer(TOLERANCE_M)


def lies_within(inner: BaseGeometry, outer: BaseGeometry) -> bool:
    return bool(widen(outer).covers(inner))


def overlap_m2(first: BaseGeometry, second: BaseGeometry) -> float:
    return float(first.intersection(second).area)


class GridIndex:
    """Finds the grid a point lies in, or the nearest one."""

    def __init__(self, plane: LocalPlane, shapes: Mapping[str, BaseGeometry]) -> None:
        self.plane = plane
        self.codes = list(shapes)
        self.shapes = [shapes[code] for code in self.codes]
        self.tree = STRtree(self.shapes)

    def containing(self, long: float, lat: float) -> str | None:
        point = self.plane.point(long, lat)
        hits = sorted(int(i) for i in self.tree.query(point, predicate="intersects"))
        return self.codes[hits[0]] if hits else None

    def nearest(self, long: float, lat: float, within_m: float) -> str | None:
        if not self.shapes:
            return None
        point = self.plane.point(long, lat)
        index = self.tree.nearest(point)
        if index is None:
            return None
        if shapely.distance(point, self.shapes[int(index)]) > within_m:
            return None
        return self.codes[int(index)]

    def overlapping_pairs(self) -> list[tuple[str, str, float]]:
        """Grids that share more than a sliver of area. Neighbours touching along a border
        are not asked for their intersection (a city has over 100,000 such pairs): only
        pairs whose bounding boxes overlap by more than a sliver are."""
        if not self.shapes:
            return []
        first, second = self.tree.query(np.array(self.shapes, dtype=object))
        keep = first < second
        first, second = first[keep], second[keep]
        bounds = shapely.bounds(np.array(self.shapes, dtype=object))
        width = np.minimum(bounds[first, 2], bounds[second, 2]) - np.maximum(
            bounds[first, 0], bounds[second, 0]
        )
        height = np.minimum(bounds[first, 3], bounds[second, 3]) - np.maximum(
            bounds[first, 1], bounds[second, 1]
        )
        sliver = TOLERANCE_M * TOLERANCE_M * 100
        suspect = (width > 0) & (height > 0) & (width * height > sliver)
        pairs: list[tuple[str, str, float]] = []
        for i, j in zip(first[suspect].tolist(), second[suspect].tolist(), strict=True):
            area = overlap_m2(self.shapes[i], self.shapes[j])
            if area > sliver:
                pairs.append((self.codes[i], self.codes[j], area))
        return pairs
