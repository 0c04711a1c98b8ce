"""Fire facilities, fire hazards and emergencies (应急哨)."""

from chuishao.common.categories import Category
from chuishao.common.domain import Level, Priority, Whistle
from chuishao.router.plugins.attributes import text, yes_no
from chuishao.router.plugins.rules import Rule, RulePlugin

FIRE_BOX = Rule(
    Category(
        code="fire_box",
        name="消防设施损坏",
        description="Fire hose box, extinguisher or hydrant broken, empty or missing",
        group="public_facility",
        keywords=("消防箱", "灭火器", "消防栓"),
        attributes=(text("parking_spot", "Nearest parking spot or door number, e.g. A-160"),),
    ),
    lead=("grid_station", "property_firm"),
)
FIRE_HAZARD = Rule(
    Category(
        code="fire_hazard",
        name="消防隐患",
        description="E-bikes charged in stairwells, blocked fire lanes, clutter in corridors",
        group="public_safety",
        keywords=("楼道充电", "飞线充电", "消防通道", "堆物"),
        default_priority=Priority.URGENT,
        attributes=(yes_no("charging_now", "Is something charging there right now?"),),
    ),
    lead=("grid_station", "fire_rescue"),
    co=("property_firm",),
)
EMERGENCY_HAZARD = Rule(
    Category(
        code="emergency_hazard",
        name="突发险情",
        description="Gas leaks, live wires, road surface bursting or smoking: danger now",
        group="public_safety",
        keywords=("燃气泄漏", "冒烟", "触电", "爆裂"),
        default_priority=Priority.EMERGENCY,
        attributes=(yes_no("people_at_risk", "Are people in danger right now?"),),
    ),
    lead=("fire_rescue",),
    co=("city_management", "housing", "law_enforcement"),
    whistle=Whistle.EMERGENCY,
    # The street blows the whistle; the departments report for duty to it.
    level=Level.STREET,
)

plugin = RulePlugin(FIRE_BOX, FIRE_HAZARD, EMERGENCY_HAZARD)
