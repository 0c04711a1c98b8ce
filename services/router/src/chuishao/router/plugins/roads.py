"""Roads and public facilities on them: surface damage, street lights, manholes."""

from chuishao.common.categories import Category
from chuishao.common.domain import Priority
from chuishao.router.plugins.attributes import text, yes_no
from chuishao.router.plugins.rules import Rule, RulePlugin

ROAD_DAMAGE = Rule(
    Category(
        code="road_damage",
        name="道路破损塌陷",
        description="Potholes, cracked, sunken or collapsed road surface and pavements",
        group="roads",
        keywords=("路面", "塌陷", "坑洼", "破损"),
        default_priority=Priority.URGENT,
        attributes=(
            yes_no("near_school", "Near a school or hospital entrance (学校、医院门口)"),
            text("size", "Rough size of the damage, e.g. 1m×2m", 2),
        ),
    ),
    # In a village the village committee (村委会) repairs its roads first; the township
    # above it is the next rung. Elsewhere no unit has the function and the city leads.
    lead=("village_committee", "city_management", "housing"),
)
STREET_LIGHT = Rule(
    Category(
        code="street_light",
        name="路灯损坏",
        description="Street lights out, flickering or damaged",
        group="public_facility",
        keywords=("路灯", "不亮"),
        attributes=(text("pole_number", "Number painted on the pole (灯杆编号)"),),
    ),
    lead=("city_management",),
)
MANHOLE_COVER = Rule(
    Category(
        code="manhole_cover",
        name="井盖缺失破损",
        description="Missing, broken or rattling manhole covers",
        group="public_facility",
        keywords=("井盖", "窨井"),
        default_priority=Priority.URGENT,
    ),
    lead=("city_management", "housing"),
    co=("grid_station",),  # someone must guard the open hole until it is fixed
)

plugin = RulePlugin(ROAD_DAMAGE, STREET_LIGHT, MANHOLE_COVER)
