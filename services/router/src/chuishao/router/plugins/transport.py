"""Transport (交通运输): buses, taxis and ride-hailing, traffic signals and signs."""

from chuishao.common.categories import Category
from chuishao.common.domain import Priority
from chuishao.router.plugins.attributes import text
from chuishao.router.plugins.rules import Rule, RulePlugin

BUS_SERVICE = Rule(
    Category(
        code="bus_service",
        name="公交运营",
        description="Buses late or skipping stops, drivers' attitude, routes, bus stop facilities",
        group="transport",
        keywords=("公交车", "公交站", "甩站", "公交线路", "末班车"),
        attributes=(text("line", "Bus line and stop, e.g. 312路 桃源站"),),
    ),
    lead=("transport",),
)
TAXI_RIDE_HAILING = Rule(
    Category(
        code="taxi_ride_hailing",
        name="出租车网约车",
        description="Taxis refusing passengers or overcharging, ride-hailing disputes, black cabs",
        group="transport",
        keywords=("出租车", "网约车", "拒载", "绕路", "黑车"),
        attributes=(text("plate", "Number plate (车牌号)"),),
    ),
    lead=("transport",),
)
TRAFFIC_SIGNALS = Rule(
    Category(
        code="traffic_signals",
        name="交通信号标志",
        description="Traffic lights broken or badly timed, road signs, markings missing, "
        "guardrails",
        group="traffic",
        keywords=("红绿灯", "信号灯", "交通标志", "标线", "护栏"),
        default_priority=Priority.URGENT,  # a dark junction is dangerous now
        attributes=(text("junction", "Junction, e.g. 云门大街与桃源路路口"),),
    ),
    lead=("traffic_police",),
)

plugin = RulePlugin(BUS_SERVICE, TAXI_RIDE_HAILING, TRAFFIC_SIGNALS)
