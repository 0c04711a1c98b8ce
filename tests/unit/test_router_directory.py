"""The directory: loading, specific errors, and placing a location."""

import json
import re
from pathlib import Path

import pytest

from chuishao.common.domain import Level, Location
from chuishao.router.directory import Directory, DirectoryError
from chuishao.router.settings import RouterSettings


def table(array: str, /, **fields: object) -> str:
    """One `[[array]]` table of a directory file, its values written as TOML writes them."""
    lines = [f"[[{array}]]"]
    lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def unit(unit_id: str, name: str, kind: str, level: str, function: str, area: str) -> str:
    return table(
        "units", id=unit_id, name=name, kind=kind, level=level, function=function, coverage=[area]
    )


def street(code: str, name: str, west: float, east: float) -> str:
    polygon = [[west, 0], [east, 0], [east, 0.02], [west, 0.02]]
    return table("streets", code=code, name=name, district="d", polygon=polygon)


BASE = (
    """
version = 7
[city]
code = "c"
name = "城"
[[districts]]
code = "d"
name = "区"
polygon = [[0, 0], [0.02, 0], [0.02, 0.02], [0, 0.02]]
"""
    + street("s1", "一街", 0, 0.01)
    + street("s2", "二街", 0.01, 0.02)
    + """[[communities]]
code = "k1"
name = "一社区"
street = "s1"
aliases = ["一号院"]
[[grids]]
code = "G1"
name = "一网格"
community = "k1"
polygon = [[0, 0], [0.01, 0], [0.01, 0.01], [0, 0.01]]
"""
    + unit("d-centre", "区中心", "district", "district", "district_centre", "d")
    + unit("s1-command", "一街指挥中心", "command_centre", "street", "command_centre", "s1")
    + unit("s2-command", "二街指挥中心", "command_centre", "street", "command_centre", "s2")
    + unit("grid-k1", "一社区网格站", "community", "community", "grid_station", "k1")
)


def load(tmp_path: Path, text: str) -> Directory:
    path = tmp_path / "directory.toml"
    path.write_text(text, encoding="utf-8")
    return Directory.load(path)


@pytest.fixture(scope="module")
def shipped() -> Directory:
    return Directory.load(RouterSettings().directory_file)


def test_the_shipped_directory_is_the_whole_district(shipped: Directory) -> None:
    document = shipped.document
    assert shipped.version >= 2
    assert len(document.streets) >= 3
    assert len(document.communities) >= 6
    assert len(document.grids) >= 12
    functions = {unit.function for unit in shipped.units}
    assert functions >= {
        "city_management",
        "law_enforcement",
        "traffic_police",
        "fire_rescue",
        "housing",
        "civil_affairs",
        "human_resources",
        "property_office",
        "bus",
        "property_firm",
        "grid_station",
        "command_centre",
        "district_centre",
    }


def test_a_minimal_directory_loads(tmp_path: Path) -> None:
    directory = load(tmp_path, BASE)
    assert directory.version == 7
    assert directory.unit("grid-k1").subject == "dept.grid-k1.>"


@pytest.mark.parametrize(
    ("location", "grid", "found_by"),
    [
        (Location(grid_code="HY-02", lat=39.89, long=116.42), "HY-02", "grid_code"),
        (Location(lat=39.9087, long=116.3975, address="和园小区 A-160"), "HY-01", "polygon"),
        (Location(lat=39.9211, long=116.3955), "HY-02", "nearest_grid"),
        (Location(lat=39.885, long=116.42), "TY-01", "polygon"),
    ],
)
def test_a_location_is_placed_in_its_grid(
    shipped: Directory, location: Location, grid: str, found_by: str
) -> None:
    place = shipped.locate(location)
    assert place is not None
    assert (place.grid, place.found_by) == (grid, found_by)


def test_the_story_3_point_is_in_heyuan(shipped: Directory) -> None:
    place = shipped.locate(Location(lat=39.9087, long=116.3975))
    assert place is not None
    assert place.codes() == ("HY-01", "heyuan", "qingshi", "yunxi", "jinghai")


def test_an_address_alone_is_placed_by_its_estate_name(shipped: Directory) -> None:
    place = shipped.locate(Location(address="滨河花园3号楼"))
    assert place is not None
    assert (place.community, place.street, place.grid) == ("binhe", "liuan", None)


def test_between_names_of_equal_length_the_more_specific_place_wins(shipped: Directory) -> None:
    # 青石街道 and 和园小区 are both four characters: the estate says more than its street
    # (the first in the file used to win, and the ticket went to the street).
    place = shipped.locate(Location(address="青石街道和园小区3号楼东侧"))
    assert place is not None
    assert (place.street, place.community) == ("qingshi", "heyuan")


def test_an_unknown_grid_code_falls_back_to_the_point(shipped: Directory) -> None:
    place = shipped.locate(Location(grid_code="NOPE-9", lat=39.905, long=116.405))
    assert place is not None
    assert place.grid == "SQ-01"


def test_a_place_outside_the_district_is_not_placed(shipped: Directory) -> None:
    assert shipped.locate(Location(lat=31.23, long=121.47, address="外滩")) is None
    default = shipped.default_place()
    assert default is not None
    assert (default.district, default.street, default.found_by) == (
        "yunxi",
        None,
        "district_default",
    )


def test_a_grid_with_only_a_centroid_is_found_as_the_nearest(tmp_path: Path) -> None:
    text = (
        BASE + '[[grids]]\ncode = "G2"\nname = "二"\ncommunity = "k1"\ncentroid = [0.005, 0.015]\n'
    )
    directory = load(tmp_path, text)
    place = directory.locate(Location(lat=0.0151, long=0.0051))
    assert place is not None
    assert (place.grid, place.found_by) == ("G2", "nearest_grid")


def test_the_most_local_unit_of_a_function_comes_first(shipped: Directory) -> None:
    place = shipped.locate(Location(grid_code="HY-01"))
    assert place is not None
    assert [u.id for u in shipped.candidates("law_enforcement", place)] == [
        "zhifa-qingshi",
        "zhifa-yunxi",
    ]
    assert shipped.find("property_firm", place).id == "wanjia-wuye"  # type: ignore[union-attr]
    xiyuan = shipped.locate(Location(grid_code="XY-01"))
    assert xiyuan is not None
    assert shipped.find("property_firm", xiyuan) is None  # an old compound without one


def test_the_ladder_names_who_supervises_at_each_level(shipped: Directory) -> None:
    place = shipped.locate(Location(grid_code="LY-02"))
    assert place is not None
    assert [shipped.supervisor(level, place).id for level in Level] == [  # type: ignore[union-attr]
        "grid-liuyin",
        "liuan-command",
        "district-yunxi",
        "city-12345",
    ]


def test_a_supervisor_serves_the_streets_its_coverage_spans(shipped: Directory) -> None:
    served = {unit.id: shipped.contact(unit).streets for unit in shipped.units}
    assert served["qingshi-command"] == ("qingshi",)
    assert served["liuan-command"] == ("liuan",)
    assert served["district-yunxi"] == ("qingshi", "liuan", "yunmen", "qingshan")
    assert served["city-12345"] == ("qingshi", "liuan", "yunmen", "qingshan")
    assert served["qingshan-command"] == ("qingshan",)  # the township answers for its villages
    # A community-level unit inherits no street: it sees only what is sent to it.
    assert served["wanjia-wuye"] == ()


def test_the_arbiter_is_the_street_then_the_district(shipped: Directory) -> None:
    place = shipped.locate(Location(grid_code="JX-01"))
    assert shipped.arbiter(place).id == "yunmen-command"
    assert shipped.arbiter(place, excluding=["yunmen-command"]).id == "district-yunxi"
    assert shipped.arbiter(None).id == "district-yunxi"


def grid(polygon: str, code: str = "G9") -> str:
    return f'[[grids]]\ncode = "{code}"\nname = "九"\ncommunity = "k1"\npolygon = {polygon}\n'


GRID_IN_S2 = grid("[[0.012, 0], [0.018, 0], [0.018, 0.005], [0.012, 0.005]]")
GRID_OUTSIDE = grid("[[1, 1], [1.01, 1], [1.01, 1.01], [1, 1.01]]")
OVERLAPPING = grid("[[0, 0.005], [0.01, 0.005], [0.01, 0.015], [0, 0.015]]")
BOWTIE = grid("[[0, 0.011], [0.01, 0.019], [0.01, 0.011], [0, 0.019]]")
UNIT = (
    '[[units]]\nid = "{id}"\nname = "x"\nkind = "department"\nlevel = "district"\n'
    'function = "{function}"\ncoverage = ["{coverage}"]\n'
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            BASE + UNIT.format(id="grid-k1", function="x", coverage="d"),
            "duplicate unit id 'grid-k1'",
        ),
        (
            BASE + '[[communities]]\ncode = "G1"\nname = "重"\nstreet = "s1"\n',
            "duplicate place code 'G1'",
        ),
        (
            BASE + '[[communities]]\ncode = "k9"\nname = "九"\nstreet = "s9"\n',
            "community k9 names unknown street 's9'",
        ),
        (
            BASE
            + '[[grids]]\ncode = "G9"\nname = "九"\ncommunity = "k9"\ncentroid = [0.001, 0.001]\n',
            "grid G9 names unknown community 'k9'",
        ),
        (
            BASE + '[[grids]]\ncode = "G9"\nname = "九"\ncommunity = "k1"\n',
            "grid G9 has neither a polygon nor a centroid",
        ),
        (BASE + GRID_IN_S2, "grid G9 is outside its street s1: it lies in street s2"),
        (BASE + GRID_OUTSIDE, "grid G9 is outside its street s1: it lies outside every street"),
        (BASE + OVERLAPPING, "grids G1 and G9 overlap"),
        (BASE + BOWTIE, "G9 (九) has an invalid polygon: Self-intersection"),
        (
            BASE + UNIT.format(id="x1", function="housing", coverage="nowhere"),
            "unit x1 covers unknown place 'nowhere'",
        ),
        (
            BASE + '[[routes]]\ncategory = "x"\nname = "X"\nlead = "nobody"\n',
            "route 'x' names unknown unit 'nobody'",
        ),
        (
            BASE + '[[routes]]\ncategory = "x"\nname = "X"\nlead = { function = "magic" }\n',
            "route 'x' names function 'magic' that no unit has",
        ),
        (
            BASE.replace('coverage = ["s2"]', 'coverage = ["s1"]'),
            "street s2 (二街) has no command_centre unit to arbitrate",
        ),
        (
            BASE.replace('function = "district_centre"', 'function = "hotline"'),
            "district d (区) has no district_centre unit as the last resort",
        ),
        (BASE + '[[routes]]\ncategory = "x"\nname = "X"\n', "lead"),
        ("version = = 1", "directory.toml"),
    ],
)
def test_a_bad_directory_says_what_is_wrong(tmp_path: Path, change: str, message: str) -> None:
    with pytest.raises(DirectoryError, match=re.escape(message)):
        load(tmp_path, change)


def test_every_problem_is_named_at_once(tmp_path: Path) -> None:
    text = BASE + GRID_OUTSIDE + UNIT.format(id="grid-k1", function="x", coverage="zz")
    with pytest.raises(DirectoryError) as raised:
        load(tmp_path, text)
    message = str(raised.value)
    assert "duplicate unit id 'grid-k1'" in message
    assert "covers unknown place 'zz'" in message
    assert "grid G9 is outside its street" in message
