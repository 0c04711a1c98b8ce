"""The city generator: a valid directory of any size that the router loads like the
shipped one, every category placed everywhere, villages first to their committees."""

from pathlib import Path

import pytest

from chuishao.common.domain import Level, Location, Priority
from chuishao.devstack.city import CitySize, SizeError, generate, main, write
from chuishao.router.decision import RoutingRequest
from chuishao.router.directory import Directory
from chuishao.router.plugins_manager import Dispatcher, plugin_manager

SMALL = CitySize(districts=3, streets=9, communities=40, grids=300, units=400, seed=7)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Directory:
    path = tmp_path_factory.mktemp("city") / "directory.json"
    write(generate(SMALL), path)
    return Directory.load(path)


def test_the_sizes_asked_for(city: Directory) -> None:
    document = city.document
    assert len(document.districts) == 3
    assert len(document.streets) == 9
    assert len(document.communities) == 40
    assert len(document.grids) == 300
    assert len(city.units) <= SMALL.units
    assert any(street.name.endswith("镇") for street in document.streets)


def test_the_same_seed_writes_the_same_city_and_toml_loads_alike(tmp_path: Path) -> None:
    as_json, as_toml, again = tmp_path / "a.json", tmp_path / "b.toml", tmp_path / "c.json"
    write(generate(SMALL), as_json)
    write(generate(SMALL), as_toml)
    write(generate(SMALL), again)
    assert as_json.read_bytes() == again.read_bytes()
    assert Directory.load(as_json).document == Directory.load(as_toml).document


def test_every_grid_centre_lies_in_its_own_grid(city: Directory) -> None:
    for grid in city.document.grids:
        assert grid.polygon is not None
        long = sum(x for x, _ in grid.polygon) / len(grid.polygon)
        lat = sum(y for _, y in grid.polygon) / len(grid.polygon)
        place = city.locate(Location(long=long, lat=lat))
        assert place is not None
        assert place.grid == grid.code


def test_every_category_is_placed_in_every_street(city: Directory) -> None:
    dispatcher = Dispatcher(plugin_manager(), city)
    first_grid: dict[str, str] = {}
    for grid in city.document.grids:
        street = next(c.street for c in city.document.communities if c.code == grid.community)
        first_grid.setdefault(street, grid.code)
    unplaced = []
    for category in dispatcher.categories():
        for street, grid_code in first_grid.items():
            location = Location(grid_code=grid_code)
            request = RoutingRequest(
                ticket_id="T1",
                category=category.code,
                description="",
                priority=Priority.NORMAL,
                location=location,
                place=city.locate(location),
            )
            if dispatcher.decide(request) is None:
                unplaced.append((category.code, street))
    assert unplaced == []


def test_a_village_road_goes_to_its_committee_and_climbs_to_the_township(
    city: Directory,
) -> None:
    township = next(s for s in city.document.streets if s.name.endswith("镇"))
    village = next(c for c in city.document.communities if c.street == township.code)
    grid = next(g for g in city.document.grids if g.community == village.code)
    location = Location(grid_code=grid.code)
    place = city.locate(location)
    assert place is not None
    decision = Dispatcher(plugin_manager(), city).decide(
        RoutingRequest(
            ticket_id="T1",
            category="road_damage",
            description="村里的路被拉土的大货车压坏了",
            priority=Priority.NORMAL,
            location=location,
            place=place,
        )
    )
    assert decision is not None
    committee = city.unit(decision.lead)
    assert committee.name.endswith("村民委员会")
    assert village.code in committee.coverage
    above = city.supervisor(Level.STREET, place)
    assert above is not None
    assert above.coverage == (township.code,)


def test_sizes_that_cannot_make_a_city_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SizeError, match="at least as many"):
        generate(CitySize(districts=4, streets=2, communities=10, grids=20))
    with pytest.raises(SizeError, match="too few units"):
        generate(CitySize(districts=2, streets=6, communities=20, grids=40, units=30))
    assert main(["--streets", "1", "--out", str(tmp_path / "x.json")]) == 2
