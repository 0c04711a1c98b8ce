"""Ecology and the environment: rivers and lakes (河长制), construction-site noise and
dust, air pollution. Noise from shops stays oil_fumes_noise (environment.py)."""

from chuishao.common.categories import Category
from chuishao.router.plugins.attributes import text, yes_no
from chuishao.router.plugins.rules import Rule, RulePlugin

RIVER_POLLUTION = Rule(
    Category(
        code="river_pollution",
        name="河湖水体污染",
        description="Rivers, lakes and canals: dirty or smelly water, rubbish in the water, "
        "sewage outfalls, dead fish",
        group="ecology",
        keywords=("河水发臭", "河道垃圾", "排污口", "死鱼", "河湖"),
        attributes=(text("water_body", "Name of the river, lake or canal (河湖名称)"),),
    ),
    # The water bureau leads; the street's river chief (河长) answers for his stretch.
    lead=("water_affairs",),
    co=("river_chief",),
)
CONSTRUCTION_NOISE = Rule(
    Category(
        code="construction_noise",
        name="施工噪音扰民",
        description="Construction sites: night work noise, pile drivers, dust from sites, "
        "muck trucks at night",
        group="ecology",
        keywords=("夜间施工", "工地噪音", "打桩", "施工扰民", "工地扬尘"),
        attributes=(
            text("site", "Name of the site or builder (工地/施工单位名称)"),
            yes_no("at_night", "At night, 22:00–06:00 (夜间施工)", 2),
        ),
    ),
    lead=("ecology_environment",),
    co=("law_enforcement",),
)
AIR_POLLUTION = Rule(
    Category(
        code="air_pollution",
        name="大气污染",
        description="Burning rubbish or straw, factory smoke or smells, chemical odours, dust "
        "not from a construction site",
        group="ecology",
        keywords=("焚烧秸秆", "焚烧垃圾", "烟囱", "化工味", "废气"),
    ),
    lead=("ecology_environment",),
)

plugin = RulePlugin(RIVER_POLLUTION, CONSTRUCTION_NOISE, AIR_POLLUTION)
