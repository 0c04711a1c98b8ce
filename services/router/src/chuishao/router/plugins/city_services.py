"""City appearance and public spaces (市容环境): sanitation, toilets, trees, stray animals,
vendors, signs, illegal structures."""

from chuishao.common.categories import Attribute, Category
from chuishao.common.domain import Level
from chuishao.router.plugins.attributes import text, yes_no
from chuishao.router.plugins.rules import Rule, RulePlugin

GARBAGE_SANITATION = Rule(
    Category(
        code="garbage_sanitation",
        name="垃圾清运环境卫生",
        description="Garbage not collected, bins overflowing, rubbish piles, streets not swept, "
        "sorting stations",
        group="city_appearance",
        keywords=("垃圾没人清", "垃圾清运", "垃圾桶满", "垃圾堆", "垃圾分类"),
    ),
    lead=("city_management",),
    co=("grid_station",),
)
PUBLIC_TOILET = Rule(
    Category(
        code="public_toilet",
        name="公共厕所",
        description="Public toilets dirty, closed, broken, without paper, smelling",
        group="public_facility",
        keywords=("公厕", "公共厕所", "公共卫生间"),
    ),
    lead=("city_management",),
)
GREENING_TREES = Rule(
    Category(
        code="greening_trees",
        name="树木绿化",
        description="Trees to prune, fallen branches, dead trees, trees blocking windows, "
        "damaged green belts, pests on trees",
        group="city_appearance",
        keywords=("修剪树木", "树枝", "枯树", "绿化带", "树木倒伏"),
        attributes=(yes_no("fallen", "A tree or branch has fallen (树木/树枝倒伏)"),),
    ),
    lead=("landscaping",),
)
STRAY_ANIMALS = Rule(
    Category(
        code="stray_animals",
        name="流浪动物",
        description="Stray dogs or cats, dead animals on the road, wild animals entering homes",
        group="city_appearance",
        keywords=("流浪狗", "野狗", "动物尸体", "死猫", "死狗"),
    ),
    lead=("law_enforcement",),
    co=("grid_station",),
    level=Level.STREET,
)
ILLEGAL_VENDORS = Rule(
    Category(
        code="illegal_vendors",
        name="占道经营",
        description="Street vendors, stalls on pavements, shops piling goods outside, night "
        "markets blocking the way",
        group="city_appearance",
        keywords=("占道经营", "摆摊", "小摊贩", "游商", "店外经营"),
    ),
    lead=("law_enforcement",),
    level=Level.STREET,
)
OUTDOOR_ADS = Rule(
    Category(
        code="outdoor_ads",
        name="广告牌匾",
        description="Billboards and shop signs loose, dangerous-looking or unlicensed, small "
        "ads pasted on walls (牛皮癣)",
        group="city_appearance",
        keywords=("广告牌", "牌匾", "招牌", "小广告", "牛皮癣"),
    ),
    lead=("city_management",),
)
ILLEGAL_CONSTRUCTION = Rule(
    Category(
        code="illegal_construction",
        name="违法建设",
        description="Illegal structures, rooftop extensions, enclosed public land, load-bearing "
        "walls demolished",
        group="city_appearance",
        keywords=("违建", "违章建筑", "私搭乱建", "加盖", "拆承重墙"),
        attributes=(
            Attribute(
                code="kind",
                datatype="singlevaluelist",
                description="What is being built",
                values=(
                    ("rooftop", "楼顶加盖"),
                    ("enclosure", "圈占公共用地"),
                    ("load_bearing", "拆改承重墙"),
                    ("other", "其他"),
                ),
            ),
            text("address", "Building and flat, e.g. 5号楼顶层", 2),
        ),
    ),
    lead=("law_enforcement",),
    co=("housing",),
    level=Level.STREET,
)

plugin = RulePlugin(
    GARBAGE_SANITATION,
    PUBLIC_TOILET,
    GREENING_TREES,
    STRAY_ANIMALS,
    ILLEGAL_VENDORS,
    OUTDOOR_ADS,
    ILLEGAL_CONSTRUCTION,
)
