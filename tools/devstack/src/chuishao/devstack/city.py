"""A whole city's directory, generated: districts, streets and townships, communities and
villages, grids whose polygons tile, and units for every function at every level.

    python -m chuishao.devstack.city --districts 16 --streets 340 --communities 7000 \
        --grids 30000 --units 5000 --seed 1 --out .data/city/directory.json

The shipped district (云溪区) is the template: every function its units serve is
generated at the same level for every district, street or community of the city, so a
category that routes in the shipped district routes everywhere in the city; its routing
table is copied with units named by function. The router validates and loads the result
like the shipped file. Nothing is random but what the seed decides.
"""

import argparse
import itertools
import json
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from chuishao.common.domain import Level
from chuishao.router.directory import Directory
from chuishao.router.document import DirectoryDocument
from chuishao.router.places import City, Community, District, Grid, Street
from chuishao.router.settings import RouterSettings
from chuishao.router.units import GRID_STATION, ByFunction, Route, Unit, UnitKind, UnitRef

# Beijing's extent, roughly: 115.4–117.5 E, 39.4–41.1 N. Districts tile this box.
WEST, EAST, SOUTH, NORTH = 115.9, 117.1, 39.5, 40.5
# One street in this many is a township (镇) whose communities are villages (村).
TOWNSHIP_EVERY = 3
VILLAGE_COMMITTEE = "village_committee"
# Characters place names are drawn from: common in real Beijing place names.
NAME_CHARS = (
    "安白北碧朝长春翠大德东丰福光广和河红虹花华怀黄惠金锦京景静康兰蓝乐丽莲林柳龙绿"
    "马梅美明南宁平浦秦青清庆瑞三山上石双顺松太泰桃天通万望文西溪霞祥新星兴秀学阳杨"
    "怡永玉园苑月云泽长正中竹紫"
)


@dataclass(frozen=True)
class Box:
    west: float
    south: float
    east: float
    north: float

    def ring(self) -> tuple[tuple[float, float], ...]:
        return (
            (self.west, self.south),
            (self.east, self.south),
            (self.east, self.north),
            (self.west, self.north),
        )

    def columns(self, count: int) -> list["Box"]:
        edges = _edges(self.west, self.east, count)
        return [Box(a, self.south, b, self.north) for a, b in itertools.pairwise(edges)]

    def rows(self, count: int) -> list["Box"]:
        edges = _edges(self.south, self.north, count)
        return [Box(self.west, a, self.east, b) for a, b in itertools.pairwise(edges)]


def _edges(start: float, end: float, count: int) -> list[float]:
    # Rounded once, here: both neighbours of a border use the same number, so the
    # polygons share their edges exactly and tile without slivers.
    return [round(start + (end - start) * i / count, 7) for i in range(count + 1)]


def split(total: int, buckets: int) -> list[int]:
    """`total` items over `buckets` as evenly as possible (the first ones get the rest)."""
    base, rest = divmod(total, buckets)
    return [base + (1 if i < rest else 0) for i in range(buckets)]


class Names:
    """Unique Chinese place names, drawn reproducibly from the seed."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def draw(self, length: int) -> str:
        for _ in range(1000):
            name = "".join(self._rng.choice(NAME_CHARS) for _ in range(length))
            if name not in self._used:
                self._used.add(name)
                return name
        return self.draw(length + 1)


@dataclass(frozen=True)
class Template:
    """One kind of unit the shipped district has at a level, to be repeated."""

    function: str
    also: tuple[str, ...]
    kind: UnitKind
    name: str  # the shipped unit's name without its place, e.g. 城市管理委员会


def _templates(shipped: Directory) -> dict[Level, list[Template]]:
    places = [shipped.city.name, *(a.name for a in shipped.document.areas())]
    # Longest place name first, so 柳岸街道 is cut before 柳岸.
    places.sort(key=len, reverse=True)
    found: dict[Level, dict[str, Template]] = {level: {} for level in Level}
    for unit in shipped.units:
        name = unit.name
        for place in places:
            name = name.replace(place, "")
        found[unit.level].setdefault(
            unit.function, Template(unit.function, unit.also, unit.kind, name or unit.function)
        )
    return {level: sorted(by.values(), key=lambda t: t.function) for level, by in found.items()}


def _by_function(ref: UnitRef, shipped: Directory) -> UnitRef:
    """A route's unit named by id in the shipped file becomes its function here."""
    if isinstance(ref, ByFunction):
        return ref
    return ByFunction(function=shipped.unit(ref).function)


@dataclass
class CitySize:
    districts: int = 16
    streets: int = 340
    communities: int = 7000
    grids: int = 30000
    units: int = 5000
    seed: int = 1


class SizeError(ValueError):
    """The numbers asked for cannot make a city (said in the message)."""


def generate(size: CitySize, shipped: Directory | None = None) -> DirectoryDocument:
    if not size.districts <= size.streets <= size.communities <= size.grids:
        raise SizeError(
            "每一级至少要和上一级一样多 / each level needs at least as many places as the one "
            f"above: districts {size.districts} ≤ streets {size.streets} ≤ communities "
            f"{size.communities} ≤ grids {size.grids}"
        )
    shipped = shipped or Directory.load(RouterSettings().directory_file)
    templates = _templates(shipped)
    rng = random.Random(size.seed)  # noqa: S311 — place names, not secrets
    names = Names(rng)
    city = City(code="city", name=f"{names.draw(2)}市")

    districts: list[District] = []
    streets: list[Street] = []
    communities: list[Community] = []
    grids: list[Grid] = []
    columns = max(1, round(size.districts**0.5))
    rows = -(-size.districts // columns)
    boxes = [
        cell for row in Box(WEST, SOUTH, EAST, NORTH).rows(rows) for cell in row.columns(columns)
    ]
    street_counts = split(size.streets, size.districts)
    community_counts = iter(split(size.communities, size.streets))
    grid_counts = iter(split(size.grids, size.communities))
    townships: set[str] = set()
    for d, (box, street_count) in enumerate(zip(boxes, street_counts, strict=False)):
        district = District(code=f"d{d:02d}", name=f"{names.draw(2)}区", polygon=box.ring())
        districts.append(district)
        for s, street_box in enumerate(box.columns(street_count)):
            code = f"{district.code}s{s:03d}"
            township = (len(streets) % TOWNSHIP_EVERY) == TOWNSHIP_EVERY - 1
            base = names.draw(2)
            street = Street(
                code=code,
                name=f"{base}{'镇' if township else '街道'}",
                district=district.code,
                polygon=street_box.ring(),
            )
            streets.append(street)
            if township:
                townships.add(code)
            for c, community_box in enumerate(street_box.rows(next(community_counts))):
                word = names.draw(3)
                community = Community(
                    code=f"{code}c{c:03d}",
                    name=f"{word}{'村' if township else '社区'}",
                    street=code,
                    aliases=(f"{word}村委会",) if township else (f"{word}小区", f"{word}里"),
                )
                communities.append(community)
                for g, grid_box in enumerate(community_box.columns(next(grid_counts))):
                    grids.append(
                        Grid(
                            code=f"{community.code}g{g:02d}",
                            name=f"{community.name}第{g + 1}网格",
                            community=community.code,
                            polygon=grid_box.ring(),
                        )
                    )
    units = _units(size, templates, city, districts, streets, communities, townships)
    routes = tuple(
        Route.model_validate(
            route.model_dump()
            | {
                "lead": _by_function(route.lead, shipped),
                "alternates": tuple(_by_function(r, shipped) for r in route.alternates),
                "co": tuple(_by_function(r, shipped) for r in route.co),
            }
        )
        for route in shipped.routes
    )
    return DirectoryDocument(
        version=1,
        city=city,
        districts=tuple(districts),
        streets=tuple(streets),
        communities=tuple(communities),
        grids=tuple(grids),
        units=tuple(units),
        routes=routes,
    )


def _units(
    size: CitySize,
    templates: dict[Level, list[Template]],
    city: City,
    districts: Sequence[District],
    streets: Sequence[Street],
    communities: Sequence[Community],
    townships: set[str],
) -> list[Unit]:
    def unit(
        template: Template,
        place_code: str,
        place_name: str,
        level: Level,
        coverage: tuple[str, ...],
    ) -> Unit:
        return Unit(
            id=f"{template.function.replace('_', '-')}-{place_code}".lower(),
            name=f"{place_name}{template.name}",
            kind=template.kind,
            level=level,
            function=template.function,
            also=template.also,
            coverage=coverage,
        )

    units = [unit(t, city.code, city.name, Level.CITY, (city.code,)) for t in templates[Level.CITY]]
    for district in districts:
        units.extend(
            unit(t, district.code, district.name, Level.DISTRICT, (district.code,))
            for t in templates[Level.DISTRICT]
        )
    for street in streets:
        units.extend(
            unit(t, street.code, street.name, Level.STREET, (street.code,))
            for t in templates[Level.STREET]
        )
    # Community level: the grid stations (a village's committee in a township) share what
    # is left of the unit budget; the other community-level functions (property firms)
    # get one unit per street.
    by_function = {t.function: t for t in templates[Level.COMMUNITY]}
    station = by_function[GRID_STATION]
    # In a township the village committee (村委会) is also its village's grid station.
    village_station = by_function.get(VILLAGE_COMMITTEE, station)
    others = [t for t in by_function.values() if t not in (station, village_station)]
    by_street: dict[str, list[Community]] = {}
    for community in communities:
        by_street.setdefault(community.street, []).append(community)
    for street in streets:
        units.extend(
            unit(
                t,
                street.code,
                street.name,
                Level.COMMUNITY,
                tuple(c.code for c in by_street[street.code]),
            )
            for t in others
        )
    budget = size.units - len(units)
    if budget < len(streets):
        raise SizeError(
            f"单位数太少 / too few units: {size.units} leaves {budget} for the grid stations "
            f"of {len(streets)} streets after {len(units)} district and street units"
        )
    stations = min(budget, len(communities))
    street_share = _shares(stations, [len(by_street[s.code]) for s in streets])
    for street, share in zip(streets, street_share, strict=True):
        members = by_street[street.code]
        for group in _groups(members, share):
            first = group[0]
            template = village_station if street.code in townships else station
            units.append(
                unit(
                    template,
                    first.code,
                    first.name,
                    Level.COMMUNITY,
                    tuple(c.code for c in group),
                )
            )
    return units


def _shares(total: int, weights: Sequence[int]) -> list[int]:
    """`total` over buckets in proportion to `weights`, at least one each, at most the weight."""
    whole = sum(weights)
    shares = [max(1, min(w, total * w // whole)) for w in weights]
    for i in itertools.cycle(range(len(weights))):
        if sum(shares) >= total:
            break
        if shares[i] < weights[i]:
            shares[i] += 1
    return shares


def _groups(members: Sequence[Community], count: int) -> Iterator[Sequence[Community]]:
    start = 0
    for length in split(len(members), count):
        yield members[start : start + length]
        start += length


def write(document: DirectoryDocument, path: Path) -> None:
    """JSON for a `.json` path (what the router parses fastest), else TOML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = document.model_dump(mode="json", exclude_defaults=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return
    header = "# Generated by `python -m chuishao.devstack.city`; do not edit, generate again.\n"
    path.write_text(header + tomli_w.dumps(data), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chuishao.devstack.city", description=__doc__.split("\n\n")[0]
    )
    defaults = CitySize()
    for field in ("districts", "streets", "communities", "grids", "units", "seed"):
        parser.add_argument(f"--{field}", type=int, default=getattr(defaults, field))
    parser.add_argument("--out", type=Path, default=Path(".data/city/directory.json"))
    args = parser.parse_args(argv)
    size = CitySize(
        **{
            f: getattr(args, f)
            for f in ("districts", "streets", "communities", "grids", "units", "seed")
        }
    )
    started = time.perf_counter()
    try:
        document = generate(size)
    except SizeError as error:
        print(f"city: {error}", file=sys.stderr)
        return 2
    write(document, args.out)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    directory = Directory.load(args.out)
    print(
        f"city: {len(document.districts)} districts, {len(document.streets)} streets "
        f"({sum(s.name.endswith('镇') for s in document.streets)} townships), "
        f"{len(document.communities)} communities, {len(document.grids)} grids, "
        f"{len(directory.units)} units → {args.out} "
        f"({args.out.stat().st_size / 1e6:.1f} MB; generated in {generated:.1f} s, "
        f"validated and loaded in {time.perf_counter() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
