"""Life in the compound: property services, leaks, disputes between neighbours."""

from chuishao.common.categories import Category
from chuishao.common.domain import Level
from chuishao.router.plugins.attributes import text
from chuishao.router.plugins.rules import Rule, RulePlugin

PROPERTY_DISPUTE = Rule(
    Category(
        code="property_dispute",
        name="物业服务纠纷",
        description="Property-management services not delivered, fees, repairs refused",
        group="neighbourhood",
        keywords=("物业", "物业费", "不作为"),
    ),
    lead=("property_office",),
    co=("property_firm",),
    level=Level.STREET,
)
WATER_LEAK = Rule(
    Category(
        code="water_leak",
        name="房屋漏水",
        description="Leaking pipes or roofs, water coming through from the flat upstairs",
        group="neighbourhood",
        keywords=("漏水", "渗水", "发霉"),
        attributes=(text("unit", "Building and flat, e.g. 3号楼2单元501"),),
    ),
    # The grid worker visits; the property firm (a co-building unit) repairs.
    lead=("grid_station",),
    co=("property_firm",),
    level=Level.COMMUNITY,
)
NEIGHBOUR_DISPUTE = Rule(
    Category(
        code="neighbour_dispute",
        name="邻里纠纷",
        description="Quarrels between neighbours that need mediation (人民调解)",
        group="neighbourhood",
        keywords=("邻居", "纠纷", "调解"),
    ),
    lead=("grid_station",),
    co=("mediation",),
    level=Level.COMMUNITY,
)

plugin = RulePlugin(PROPERTY_DISPUTE, WATER_LEAK, NEIGHBOUR_DISPUTE)
