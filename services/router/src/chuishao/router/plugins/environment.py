"""Nuisances from shops and people: oil fumes and noise, uncivilised behaviour."""

from chuishao.common.categories import Attribute, Category
from chuishao.common.domain import Level
from chuishao.router.plugins.attributes import text
from chuishao.router.plugins.rules import Rule, RulePlugin

OIL_FUMES_NOISE = Rule(
    Category(
        code="oil_fumes_noise",
        name="油烟噪音扰民",
        description="Restaurant oil fumes, fan and equipment noise from shops",
        group="environment",
        keywords=("油烟", "噪音", "风机", "扰民"),
        attributes=(
            text("shop_name", "Name of the shop (商户名称)"),
            text("hours", "When it happens, e.g. 每晚10点以后", 2),
        ),
    ),
    lead=("law_enforcement",),
    level=Level.STREET,
)
UNCIVILISED_BEHAVIOUR = Rule(
    Category(
        code="uncivilised_behaviour",
        name="不文明行为",
        description="Dogs off the leash or fouling, litter, spitting, feeding in public",
        group="environment",
        keywords=("遛狗", "狗屎", "乱扔垃圾", "不文明"),
        attributes=(
            Attribute(
                code="behaviour",
                datatype="singlevaluelist",
                description="What was seen",
                values=(("dog", "遛狗不拴绳/狗粪"), ("litter", "乱扔垃圾"), ("other", "其他")),
            ),
        ),
    ),
    lead=("law_enforcement",),
    co=("grid_station",),
    level=Level.STREET,
)

plugin = RulePlugin(OIL_FUMES_NOISE, UNCIVILISED_BEHAVIOUR)
