"""Residential buildings beyond the property firm: group rentals and lifts."""

from chuishao.common.categories import Category
from chuishao.router.plugins.attributes import text, yes_no
from chuishao.router.plugins.rules import Rule, RulePlugin

GROUP_RENTAL = Rule(
    Category(
        code="group_rental",
        name="群租房",
        description="Flats partitioned and rented to many people, basements rented out, "
        "tenants crowding",
        group="neighbourhood",
        keywords=("群租", "隔断房", "地下室住人", "打隔断"),
        attributes=(text("unit", "Building and flat, e.g. 3号楼2单元501"),),
    ),
    lead=("housing",),
    co=("grid_station",),
)
ELEVATOR = Rule(
    Category(
        code="elevator",
        name="电梯故障",
        description="Lifts broken or stopping between floors with no one trapped (anyone "
        "trapped is 突发险情 emergency_hazard), inspection overdue, lifts for old buildings",
        group="neighbourhood",
        keywords=("电梯故障", "电梯停运", "电梯年检", "加装电梯"),
        attributes=(
            text("lift", "Building and lift, e.g. 3号楼东侧电梯"),
            yes_no("stopped", "The lift is out of service now (电梯已停运)", 2),
        ),
    ),
    # Special equipment (特种设备) is the market regulator's; the property firm repairs.
    lead=("market_regulation",),
    co=("property_firm",),
)

plugin = RulePlugin(GROUP_RENTAL, ELEVATOR)
