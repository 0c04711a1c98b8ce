"""Courtyard lamps (院内照明) in old compounds: the grid station fixes them."""

from chuishao.common.catalogue import Category
from chuishao.common.domain import Level, Whistle
from chuishao.router.decision import RoutingDecision, RoutingRequest
from chuishao.router.directory import Directory
from chuishao.router.hookspecs import hookimpl

COURTYARD_LAMP = Category(
    code="courtyard_lamp",
    name="院内照明损坏",
    description="Lamps inside an old compound's courtyard, not on the public road",
    group="public_facility",
    keywords=("院里的灯", "院内照明"),
)


class CourtyardLamps:
    @hookimpl
    def chuishao_categories(self, directory: Directory) -> list[Category]:
        return [COURTYARD_LAMP]

    @hookimpl
    def chuishao_route(
        self, request: RoutingRequest, directory: Directory
    ) -> RoutingDecision | None:
        if request.category != COURTYARD_LAMP.code or request.place is None:
            return None
        station = directory.find("grid_station", request.place)
        if station is None:
            return None
        return RoutingDecision(
            lead=station.id,
            level=Level.COMMUNITY,
            whistle=Whistle.DAILY,
            priority=request.priority,
            reason="chuishao-lamps: courtyard lamps are the grid station's",
        )


plugin = CourtyardLamps()
