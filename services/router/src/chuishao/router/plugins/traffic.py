"""Traffic: roads blocked (协同哨 with co-building units), illegal parking."""

from chuishao.common.categories import Category
from chuishao.common.domain import Level, Priority, Whistle
from chuishao.router.plugins.attributes import text
from chuishao.router.plugins.rules import Rule, RulePlugin

BUS_WORDS = ("公交", "大巴", "客车")

TRAFFIC_OBSTRUCTION = Rule(
    Category(
        code="traffic_obstruction",
        name="车辆堵路",
        description="Vehicles queueing or parked so that a road or entrance is blocked",
        group="traffic",
        keywords=("堵路", "堵车", "排队", "拥堵"),
        default_priority=Priority.URGENT,
        attributes=(text("vehicles", "Which vehicles, e.g. 公交车、渣土车"),),
    ),
    lead=("traffic_police",),
    co=("property_firm", "grid_station"),
    co_if_mentioned=((BUS_WORDS, "bus"),),
    whistle=Whistle.COORDINATION,
    level=Level.STREET,
)
ILLEGAL_PARKING = Rule(
    Category(
        code="illegal_parking",
        name="违章停车",
        description="Cars parked on pavements, in bus lanes, at entrances or fire lanes",
        group="traffic",
        keywords=("违停", "乱停车", "占道停车"),
        attributes=(text("plate", "Number plate, if visible (车牌号)"),),
    ),
    lead=("traffic_police", "law_enforcement"),
    level=Level.STREET,
)

plugin = RulePlugin(TRAFFIC_OBSTRUCTION, ILLEGAL_PARKING)
