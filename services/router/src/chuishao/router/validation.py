"""Everything that can be wrong with a directory beyond its field types, each problem
named specifically, so ops can fix the file in one pass."""

from collections import Counter
from collections.abc import Iterable, Mapping

from shapely.geometry.base import BaseGeometry

from chuishao.router.document import DirectoryDocument
from chuishao.router.geometry import GridIndex, LocalPlane, invalid_reason, lies_within, widen
from chuishao.router.places import Area
from chuishao.router.units import (
    COMMAND_CENTRE,
    DISTRICT_CENTRE,
    ByFunction,
    UnitRef,
)


def _duplicates(values: Iterable[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def _references(doc: DirectoryDocument) -> list[str]:
    problems: list[str] = []
    districts = {d.code for d in doc.districts}
    streets = {s.code for s in doc.streets}
    communities = {c.code for c in doc.communities}
    for street in doc.streets:
        if street.district not in districts:
            problems.append(f"street {street.code} names unknown district {street.district!r}")
    for community in doc.communities:
        if community.street not in streets:
            problems.append(f"community {community.code} names unknown street {community.street!r}")
    for grid in doc.grids:
        if grid.community not in communities:
            problems.append(f"grid {grid.code} names unknown community {grid.community!r}")
        if grid.polygon is None and grid.centroid is None:
            problems.append(f"grid {grid.code} has neither a polygon nor a centroid")
    return problems


def _units(doc: DirectoryDocument) -> list[str]:
    problems: list[str] = []
    places = {area.code for area in doc.areas()}
    for unit in doc.units:
        problems.extend(
            f"unit {unit.id} covers unknown place {code!r}"
            for code in unit.coverage
            if code not in places
        )
    unit_ids = {unit.id for unit in doc.units}
    functions = {function for unit in doc.units for function in (unit.function, *unit.also)}

    def check(category: str, ref: UnitRef) -> None:
        if isinstance(ref, ByFunction):
            if ref.function not in functions:
                problems.append(
                    f"route {category!r} names function {ref.function!r} that no unit has"
                )
        elif ref not in unit_ids:
            problems.append(f"route {category!r} names unknown unit {ref!r}")

    for route in doc.routes:
        for ref in (route.lead, *route.alternates, *route.co):
            check(route.category, ref)
    problems.extend(
        f"duplicate route for category {code!r}"
        for code in _duplicates(route.category for route in doc.routes)
    )
    return problems


def _owners(doc: DirectoryDocument) -> list[str]:
    """Nothing may be left unowned: each street has a command centre to arbitrate, each
    district a last-resort unit (兜底)."""

    def covered(function: str, codes: set[str]) -> bool:
        return any(u.function == function and codes & set(u.coverage) for u in doc.units)

    problems = [
        f"street {street.code} ({street.name}) has no {COMMAND_CENTRE} unit to arbitrate"
        for street in doc.streets
        if not covered(COMMAND_CENTRE, {street.code, street.district, doc.city.code})
    ]
    problems.extend(
        f"district {district.code} ({district.name}) has no {DISTRICT_CENTRE} unit "
        "as the last resort (兜底)"
        for district in doc.districts
        if not covered(DISTRICT_CENTRE, {district.code, doc.city.code})
    )
    return problems


def shapes_of(plane: LocalPlane, areas: Iterable[Area]) -> dict[str, BaseGeometry]:
    return plane.shapes(areas)


def _geometry(doc: DirectoryDocument, shapes: Mapping[str, BaseGeometry]) -> list[str]:
    problems = [
        f"{area.code} ({area.name}) has an invalid polygon: {reason}"
        for area in doc.areas()
        if area.code in shapes and (reason := invalid_reason(shapes[area.code])) is not None
    ]
    if problems:
        return problems  # containment tests on broken shapes would only add noise
    street_of = {c.code: c.street for c in doc.communities}
    district_of = {s.code: s.district for s in doc.streets}
    street_polygons = {s.code: shapes[s.code] for s in doc.streets if s.polygon is not None}
    district_polygons = {d.code: shapes[d.code] for d in doc.districts if d.polygon is not None}
    # Each boundary is widened by the tolerance once, not once per grid inside it.
    widened = {
        code: widen(polygon) for code, polygon in (street_polygons | district_polygons).items()
    }
    for grid in doc.grids:
        shape = shapes.get(grid.code)
        street_code = street_of.get(grid.community)
        if shape is None or street_code is None:
            continue
        boundary_code = (
            street_code if street_code in street_polygons else district_of.get(street_code, "")
        )
        boundary = widened.get(boundary_code)
        if boundary is None or boundary.covers(shape):
            continue
        inside = [code for code, polygon in street_polygons.items() if lies_within(shape, polygon)]
        where = f"it lies in street {inside[0]}" if inside else "it lies outside every street"
        problems.append(f"grid {grid.code} is outside its street {street_code}: {where}")
    for street in doc.streets:
        district = district_polygons.get(street.district)
        polygon = street_polygons.get(street.code)
        if polygon is not None and district is not None and not lies_within(polygon, district):
            problems.append(f"street {street.code} is outside its district {street.district}")
    return problems


def _overlaps(index: GridIndex) -> list[str]:
    return [
        f"grids {first} and {second} overlap ({area:.0f} m²)"
        for first, second, area in index.overlapping_pairs()
    ]


def problems_in(
    doc: DirectoryDocument, plane: LocalPlane, shapes: Mapping[str, BaseGeometry] | None = None
) -> list[str]:
    """`shapes`: the areas' shapes when the caller has them already (Directory)."""
    problems = [
        f"duplicate unit id {unit_id!r}" for unit_id in _duplicates(u.id for u in doc.units)
    ]
    problems.extend(
        f"duplicate place code {code!r}" for code in _duplicates(a.code for a in doc.areas())
    )
    problems.extend(_references(doc))
    problems.extend(_units(doc))
    problems.extend(_owners(doc))
    shapes = shapes if shapes is not None else shapes_of(plane, doc.areas())
    geometry = _geometry(doc, shapes)
    problems.extend(geometry)
    if not geometry:
        grids = {grid.code: shapes[grid.code] for grid in doc.grids if grid.code in shapes}
        problems.extend(_overlaps(GridIndex(plane, grids)))
    return problems
