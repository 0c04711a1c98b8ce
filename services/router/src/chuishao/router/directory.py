"""The directory of places and units, loaded from a versioned TOML file and checked as a
whole: a directory with a problem is refused, with every problem named."""

import json
import tomllib
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from chuishao.common.domain import Level, Location
from chuishao.common.unit_contacts import UnitContact
from chuishao.router.document import DirectoryDocument
from chuishao.router.geometry import GridIndex, LocalPlane
from chuishao.router.places import Area, Community, District, FoundBy, Grid, Place, Street
from chuishao.router.units import (
    DISTRICT_CENTRE,
    SUPERVISOR_FUNCTION,
    ByFunction,
    Route,
    Unit,
    UnitRef,
)
from chuishao.router.validation import problems_in, shapes_of

# A point this close to a grid but outside every polygon (a pin dropped on the kerb of a
# border road) still belongs to the nearest grid.
NEAREST_GRID_M = 300.0


# How deep a place lies: a grid is more specific than its community, and so on up.
_DEPTH: dict[type[Area], int] = {District: 1, Street: 2, Community: 3, Grid: 4}


class DirectoryError(ValueError):
    """The directory file cannot be used; the message says where and why."""


class Directory:
    def __init__(self, document: DirectoryDocument, source: str = "<memory>") -> None:
        plane = LocalPlane.around(document.areas())
        shapes = shapes_of(plane, document.areas())
        problems = problems_in(document, plane, shapes)
        if problems:
            raise DirectoryError(f"{source}: " + "; ".join(problems))
        self.document = document
        self.source = source
        self.version = document.version
        self.city = document.city
        self.units = document.units
        self.routes = document.routes
        self._units = {unit.id: unit for unit in document.units}
        self._streets = {street.code: street for street in document.streets}
        self._communities = {community.code: community for community in document.communities}
        self._grids = {grid.code: grid for grid in document.grids}
        self._index = GridIndex(
            plane, {g.code: shapes[g.code] for g in document.grids if g.code in shapes}
        )
        # Names and aliases; the longest one in an address wins, so 和园小区东区 beats 和园;
        # between equals the most specific place (青石街道和园小区: the estate, not the
        # street), then the first in the file. Looked up by substring, not scanned:
        # a city has tens of thousands of names.
        self._aliases: dict[str, tuple[int, Area]] = {}
        for area in document.areas():
            if area.code != self.city.code:
                for alias in (area.name, *area.aliases):
                    self._aliases.setdefault(alias, (len(self._aliases), area))
        self._alias_lengths = sorted({len(alias) for alias in self._aliases}, reverse=True)
        # function → place code → units serving it there, so that picking a unit looks at
        # the handful of places containing the ticket, not at every unit of the city.
        self._serving: dict[str, dict[str, list[Unit]]] = {}
        for unit in document.units:
            for function in {unit.function, *unit.also}:
                for code in unit.coverage:
                    self._serving.setdefault(function, {}).setdefault(code, []).append(unit)

    @classmethod
    def load(cls, path: Path) -> "Directory":
        """TOML as ops write it; JSON (same fields) for a generated city, whose 30,000
        grids take tomllib 5-10 s to parse and json well under one."""
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (
            OSError,
            ValueError,
        ) as error:  # TOMLDecodeError, JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise DirectoryError(f"{path}: {error}") from error
        try:
            document = DirectoryDocument.model_validate(data)
        except ValidationError as error:
            raise DirectoryError(f"{path}: {error}") from error
        return cls(document, str(path))

    # --- units

    def unit(self, unit_id: str) -> Unit:
        try:
            return self._units[unit_id]
        except KeyError:
            raise DirectoryError(f"unknown unit {unit_id!r}") from None

    def get_unit(self, unit_id: str) -> Unit | None:
        return self._units.get(unit_id)

    def streets_served(self, unit: Unit) -> tuple[str, ...]:
        """The streets a unit's coverage spans: a street itself, a district's streets, the
        city's. Grids and communities name no street here: a community-level unit is never
        a street's supervisor, so it must not inherit the street's tickets."""
        covered = set(unit.coverage)
        everywhere = self.city.code in covered
        return tuple(
            street.code
            for street in self.document.streets
            if everywhere or street.code in covered or street.district in covered
        )

    def contact(self, unit: Unit) -> UnitContact:
        """What other services learn about a unit (units KV), with the streets it serves."""
        return unit.as_contact(self.streets_served(unit))

    def route(self, category: str) -> Route | None:
        return next((route for route in self.routes if route.category == category), None)

    def candidates(self, function: str, place: Place) -> list[Unit]:
        """Units with this function that cover the place, the most local first."""
        serving = self._serving.get(function, {})
        ranked: dict[str, tuple[int, Unit]] = {}
        for rank, code in enumerate(place.codes()):
            for unit in serving.get(code, ()):
                ranked.setdefault(unit.id, (rank, unit))
        return [unit for _, (_, unit) in sorted(ranked.items(), key=lambda e: (e[1][0], e[0]))]

    def find(self, function: str, place: Place) -> Unit | None:
        found = self.candidates(function, place)
        return found[0] if found else None

    def resolve(self, ref: UnitRef, place: Place) -> Unit | None:
        if isinstance(ref, ByFunction):
            return self.find(ref.function, place)
        return self.get_unit(ref)

    def supervisor(self, level: Level, place: Place) -> Unit | None:
        """Who answers for the place at this rung of the ladder; missing rungs go up."""
        for rung in list(Level)[list(Level).index(level) :]:
            unit = self.find(SUPERVISOR_FUNCTION[rung], place)
            if unit is not None:
                return unit
        return None

    def arbiter(self, place: Place | None, excluding: Iterable[str] = ()) -> Unit:
        """Who dispatches by hand what no rule could place: the street command centre;
        the district when the street is unknown, or has itself declined the ticket; the
        district's last-resort unit (兜底) whatever happens."""
        place = place or self.default_place()
        excluded = set(excluding)
        if place is not None:
            ladder = list(Level)
            start = ladder.index(Level.STREET if place.street else Level.DISTRICT)
            for rung in ladder[start:]:
                for unit in self.candidates(SUPERVISOR_FUNCTION[rung], place):
                    if unit.id not in excluded:
                        return unit
            district_centre = self.find(DISTRICT_CENTRE, place)
            if district_centre is not None:
                return district_centre
        return self.last_resort()

    def last_resort(self) -> Unit:
        # Validation refuses a directory without one.
        return next(unit for unit in self.units if unit.function == DISTRICT_CENTRE)

    # --- places

    def place_of(self, area: Area, found_by: FoundBy) -> Place:
        grid = community = street = None
        if isinstance(area, Grid):
            grid, area = area, self._communities[area.community]
        if isinstance(area, Community):
            community, area = area, self._streets[area.street]
        if isinstance(area, Street):
            street = area
            district = street.district
        elif area.code == self.city.code:
            district = self.document.districts[0].code
        else:
            district = area.code
        return Place(
            city=self.city.code,
            district=district,
            street=street.code if street else None,
            community=community.code if community else None,
            grid=grid.code if grid else None,
            found_by=found_by,
        )

    def locate(self, location: Location) -> Place | None:
        """The place of a location: its grid code, else the grid the point lies in (or is
        next to), else the estate or road named in the address."""
        if location.grid_code and (grid := self._grids.get(location.grid_code)):
            return self.place_of(grid, "grid_code")
        if location.lat is not None and location.long is not None:
            if code := self._index.containing(location.long, location.lat):
                return self.place_of(self._grids[code], "polygon")
            if code := self._index.nearest(location.long, location.lat, NEAREST_GRID_M):
                return self.place_of(self._grids[code], "nearest_grid")
        if location.address and (area := self._named_in(location.address)):
            return self.place_of(area, "address")
        return None

    def _named_in(self, address: str) -> Area | None:
        """The place whose name or alias is the longest found in the address."""
        for length in self._alias_lengths:
            found = [
                named
                for start in range(len(address) - length + 1)
                if (named := self._aliases.get(address[start : start + length]))
            ]
            if found:
                return min(found, key=lambda named: (-_DEPTH.get(type(named[1]), 0), named[0]))[1]
        return None

    def default_place(self) -> Place | None:
        """Where an unplaceable ticket belongs: the district, when there is only one."""
        if len(self.document.districts) != 1:
            return None
        return self.place_of(self.document.districts[0], "district_default")
