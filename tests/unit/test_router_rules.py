"""Category plugins: discovery through entry points, the catalogue they make, and the
brief's stories routed to the right units with the right whistle."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from chuishao.common.domain import Level, Location, Priority, Whistle
from chuishao.router.decision import RoutingDecision, RoutingRequest
from chuishao.router.directory import Directory
from chuishao.router.plugins.rules import Rule
from chuishao.router.plugins_manager import Dispatcher, PluginError, plugin_manager
from chuishao.router.settings import RouterSettings
from plugins.installer import installed

BUILT_INS = {"roads", "environment", "safety", "traffic", "neighbourhood", "welfare", "table"}
BRIEF_CATEGORIES = {
    "road_damage",
    "oil_fumes_noise",
    "fire_box",
    "street_light",
    "manhole_cover",
    "traffic_obstruction",
    "emergency_hazard",
    "fire_hazard",
    "illegal_parking",
    "property_dispute",
    "water_leak",
    "neighbour_dispute",
    "wage_arrears",
    "assistance",
    "uncivilised_behaviour",
}


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    return Dispatcher(plugin_manager(), Directory.load(RouterSettings().directory_file))


def decide(
    dispatcher: Dispatcher,
    category: str,
    description: str = "",
    location: Location | None = None,
    priority: Priority = Priority.NORMAL,
) -> RoutingDecision:
    location = location or Location(grid_code="HY-01")
    request = RoutingRequest(
        ticket_id="T1",
        category=category,
        description=description,
        priority=priority,
        location=location,
        place=dispatcher.directory.locate(location),
    )
    decision = dispatcher.decide(request)
    assert decision is not None, f"{category} was not placed"
    return decision


def test_the_built_in_plugins_are_found_through_their_entry_points() -> None:
    assert {name for name, _ in plugin_manager().list_name_plugin()} >= BUILT_INS


def test_the_catalogue_serves_every_category_of_the_brief(dispatcher: Dispatcher) -> None:
    catalogue = dispatcher.categories()
    codes = [category.code for category in catalogue]
    assert set(codes) >= BRIEF_CATEGORIES | {"heating", "shared_bikes"}
    assert codes == sorted(codes)
    fire_box = next(c for c in catalogue if c.code == "fire_box")
    assert fire_box.name == "消防设施损坏"
    assert [a.code for a in fire_box.attributes] == ["parking_spot"]


# (story, category, description, location, lead, co, whistle, level)
STORIES = [
    ("1 road collapse outside a school", "road_damage", "学校门口路面塌陷", None,
     "cg-yunxi", set(), Whistle.DAILY, Level.DISTRICT),
    ("2 oil fumes and fan noise", "oil_fumes_noise", "餐馆油烟和风机噪音", None,
     "zhifa-qingshi", set(), Whistle.DAILY, Level.STREET),
    ("3 fire box next to A-160", "fire_box", "A-160车位旁边的消防箱玻璃碎了",
     Location(lat=39.9087, long=116.3975, address="和园小区 A-160 车位"),
     "grid-heyuan", set(), Whistle.DAILY, Level.COMMUNITY),
    ("4 buses queueing for gas block a road", "traffic_obstruction", "公交车排队加气堵路",
     Location(grid_code="TY-01"), "jiaojing-yunxi", {"bus-yunxi", "jinhua-wuye", "grid-taoyuan"},
     Whistle.COORDINATION, Level.STREET),
    ("5 road surface bursting and smoking", "emergency_hazard", "路面鼓起冒烟，有触电危险", None,
     "xiaofang-yunxi", {"cg-yunxi", "zhujian-yunxi", "zhifa-qingshi"},
     Whistle.EMERGENCY, Level.STREET),
    ("6 e-bikes charged in a stairwell", "fire_hazard", "楼道里给电动车充电", None,
     "grid-heyuan", {"wanjia-wuye"}, Whistle.DAILY, Level.COMMUNITY),
    ("7 a leaking pipe upstairs", "water_leak", "楼上漏水，墙都发霉了", Location(grid_code="BH-02"),
     "grid-binhe", {"binjiang-wuye"}, Whistle.DAILY, Level.COMMUNITY),
    ("7 the neighbour dispute", "neighbour_dispute", "和楼上邻居因为漏水吵架",
     Location(grid_code="BH-02"), "grid-binhe", {"tiaojie-liuan"}, Whistle.DAILY, Level.COMMUNITY),
    ("street light out", "street_light", "路灯不亮", None,
     "cg-yunxi", set(), Whistle.DAILY, Level.DISTRICT),
    ("manhole cover missing", "manhole_cover", "井盖丢了", None,
     "cg-yunxi", {"grid-heyuan"}, Whistle.DAILY, Level.DISTRICT),
    ("cars on the pavement", "illegal_parking", "人行道违停", None,
     "jiaojing-yunxi", set(), Whistle.DAILY, Level.STREET),
    ("property firm refuses repairs", "property_dispute", "物业不修电梯", None,
     "wuyeban-qingshi", {"wanjia-wuye"}, Whistle.DAILY, Level.STREET),
    ("wages unpaid", "wage_arrears", "包工头拖欠工资", None,
     "renshe-yunxi", set(), Whistle.DAILY, Level.DISTRICT),
    ("an old man living alone", "assistance", "独居老人需要帮助", None,
     "minzheng-yunxi", {"grid-heyuan"}, Whistle.DAILY, Level.DISTRICT),
    ("dogs off the leash", "uncivilised_behaviour", "遛狗不拴绳", None,
     "zhifa-qingshi", {"grid-heyuan"}, Whistle.DAILY, Level.STREET),
    ("cold radiators (routing table)", "heating", "暖气不热", None,
     "heating-yunxi", {"grid-heyuan"}, Whistle.DAILY, Level.DISTRICT),
]  # fmt: skip


@pytest.mark.parametrize(
    ("category", "description", "location", "lead", "co", "whistle", "level"),
    [story[1:] for story in STORIES],
    ids=[story[0] for story in STORIES],
)
def test_a_story_reaches_the_right_units(
    dispatcher: Dispatcher,
    category: str,
    description: str,
    location: Location | None,
    lead: str,
    co: set[str],
    whistle: Whistle,
    level: Level,
) -> None:
    decision = decide(dispatcher, category, description, location)
    assert decision.lead == lead
    assert set(decision.co) == co
    assert decision.whistle == whistle
    assert decision.level == level


def test_buses_are_summoned_only_when_buses_are_involved(dispatcher: Dispatcher) -> None:
    trucks = decide(dispatcher, "traffic_obstruction", "渣土车排队堵住小区门口")
    assert "bus-yunxi" not in trucks.co
    assert trucks.whistle == Whistle.COORDINATION


def test_an_old_compound_without_a_property_firm_still_gets_its_grid_worker(
    dispatcher: Dispatcher,
) -> None:
    decision = decide(dispatcher, "fire_hazard", "楼道充电", Location(grid_code="XY-02"))
    assert (decision.lead, decision.co) == ("grid-xiyuan", ())


def test_an_emergency_marked_by_an_operator_blows_the_emergency_whistle(
    dispatcher: Dispatcher,
) -> None:
    decision = decide(
        dispatcher, "manhole_cover", "井盖丢了，有人掉进去", priority=Priority.EMERGENCY
    )
    assert decision.whistle == Whistle.EMERGENCY
    assert decision.priority == Priority.EMERGENCY


def test_a_decision_lists_who_takes_over_if_the_lead_declines(dispatcher: Dispatcher) -> None:
    assert decide(dispatcher, "road_damage").alternates == ("zhujian-yunxi",)
    assert decide(dispatcher, "oil_fumes_noise").alternates == ("zhifa-yunxi",)


def test_the_routing_table_names_units_by_function(dispatcher: Dispatcher) -> None:
    decision = decide(dispatcher, "shared_bikes", "共享单车堵门", Location(grid_code="LY-01"))
    assert (decision.lead, decision.alternates) == ("bikes-yunxi", ("zhifa-liuan",))
    assert decision.reason == "routing table: shared_bikes"


def test_a_category_with_no_plugin_is_not_placed(dispatcher: Dispatcher) -> None:
    request = RoutingRequest(
        ticket_id="T1",
        category="ufo_sighting",
        description="",
        priority=Priority.NORMAL,
        location=Location(grid_code="HY-01"),
        place=None,
    )
    assert dispatcher.decide(request) is None


@pytest.fixture
def lamps_installed(tmp_path: Path) -> Iterator[Path]:
    with installed("chuishao-lamps", tmp_path / "site-packages") as site:
        yield site


def test_an_installed_third_party_plugin_is_picked_up_by_its_entry_point(
    lamps_installed: Path,
) -> None:
    manager = plugin_manager()
    assert "courtyard_lamps" in {name for name, _ in manager.list_name_plugin()}
    dispatcher = Dispatcher(manager, Directory.load(RouterSettings().directory_file))
    assert "courtyard_lamp" in {category.code for category in dispatcher.categories()}
    decision = decide(dispatcher, "courtyard_lamp", "院里的灯坏了", Location(grid_code="SQ-02"))
    assert decision.lead == "grid-shiqiao"
    assert decision.reason.startswith("chuishao-lamps")


def test_the_plugin_is_gone_once_uninstalled() -> None:
    assert "courtyard_lamps" not in {name for name, _ in plugin_manager().list_name_plugin()}


def test_a_plugin_that_fails_to_load_is_named(tmp_path: Path) -> None:
    with installed("chuishao-lamps", tmp_path) as site:
        (site / "chuishao_lamps" / "__init__.py").write_text("raise ImportError('broken')\n")
        with pytest.raises(PluginError, match="courtyard_lamps"):
            plugin_manager()


def test_a_misspelt_key_in_a_declared_rule_is_refused() -> None:
    """The built-ins are declared in TOML (plugins/<name>.toml); a key the reader does not
    know must stop the start-up, not silently drop a field of the catalogue."""
    declared = {"code": "lamp", "name": "路灯", "lead": ["city_management"]}
    assert Rule.declared(declared).lead == ("city_management",)
    with pytest.raises(ValueError, match="keyword"):
        Rule.declared({**declared, "keyword": ["路灯"]})
    with pytest.raises(ValueError, match="valuse"):
        Rule.declared({**declared, "attributes": [{"code": "a", "description": "d", "valuse": []}]})
