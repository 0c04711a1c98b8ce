"""Utilities (水电气) and drainage: supply problems go to the utility company that runs the
network; a leak, a smell of gas or sparking wires now is emergency_hazard, not these."""

from chuishao.common.categories import Category
from chuishao.common.domain import Priority
from chuishao.router.plugins.attributes import text, yes_no
from chuishao.router.plugins.rules import Rule, RulePlugin

GAS_SUPPLY = Rule(
    Category(
        code="gas_supply",
        name="燃气供应",
        description="No gas or low pressure, gas meter, card or bill problems, pipe relocation "
        "(a leak or a smell of gas now is 突发险情 emergency_hazard)",
        group="utilities",
        keywords=("停气", "没有燃气", "燃气表", "燃气费", "燃气灶打不着"),
        attributes=(text("account", "Gas account or meter number (燃气户号/表号)"),),
    ),
    lead=("gas",),
)
WATER_SUPPLY = Rule(
    Category(
        code="water_supply",
        name="供水问题",
        description="Water cut off, low pressure, yellow, turbid or smelly tap water, water "
        "meter or bill",
        group="utilities",
        keywords=("停水", "水压低", "自来水发黄", "水质浑浊", "水表"),
        default_priority=Priority.URGENT,  # a building without water cannot wait two days
        attributes=(
            yes_no("whole_building", "The whole building or estate is affected (整栋楼/整个小区)"),
        ),
    ),
    lead=("water",),
    co=("grid_station",),
)
POWER_OUTAGE = Rule(
    Category(
        code="power_outage",
        name="停电供电",
        description="Power cut, unstable voltage, electricity meter or bill, an outage not "
        "announced (sparks or exposed live wires are 突发险情 emergency_hazard)",
        group="utilities",
        keywords=("停电", "断电", "电压不稳", "电表", "跳闸"),
        default_priority=Priority.URGENT,
        attributes=(
            yes_no("whole_building", "The whole building or estate is affected (整栋楼/整个小区)"),
        ),
    ),
    lead=("power",),
)
DRAINAGE = Rule(
    Category(
        code="drainage",
        name="排水管道堵塞",
        description="Blocked sewers or drains, sewage overflowing, a road waterlogged after "
        "rain with no danger to people",
        group="utilities",
        keywords=("下水道堵", "污水外溢", "返水", "雨后积水", "排水不畅"),
    ),
    lead=("water_affairs",),
    co=("city_management",),
)

plugin = RulePlugin(GAS_SUPPLY, WATER_SUPPLY, POWER_OUTAGE, DRAINAGE)
