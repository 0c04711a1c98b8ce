"""The table-driven plugin: ops map categories to units in the directory file, no code.
It asks last, so a code plugin serving the same category wins."""

from chuishao.common.categories import Category
from chuishao.router.decision import RoutingDecision, RoutingRequest
from chuishao.router.directory import Directory
from chuishao.router.hookspecs import hookimpl
from chuishao.router.plugins.rules import most_urgent


@hookimpl
def chuishao_categories(directory: Directory) -> list[Category]:
    return [
        Category(
            code=route.category,
            name=route.name,
            description=route.description,
            group=route.group,
            keywords=route.keywords,
            default_priority=route.priority,
        )
        for route in directory.routes
    ]


@hookimpl(trylast=True)
def chuishao_route(request: RoutingRequest, directory: Directory) -> RoutingDecision | None:
    route = directory.route(request.category)
    place = request.place or directory.default_place()
    if route is None or place is None:
        return None
    leads = [
        unit for ref in (route.lead, *route.alternates) if (unit := directory.resolve(ref, place))
    ]
    if not leads:
        return None
    lead = leads[0]
    co = [
        unit for ref in route.co if (unit := directory.resolve(ref, place)) and unit.id != lead.id
    ]
    return RoutingDecision(
        lead=lead.id,
        co=tuple(dict.fromkeys(unit.id for unit in co)),
        alternates=tuple(dict.fromkeys(u.id for u in leads[1:] if u.id != lead.id)),
        level=route.level or lead.level,
        whistle=route.whistle,
        priority=most_urgent(route.priority, request.priority),
        reason=f"routing table: {route.category}",
        report_within_seconds=route.report_within_minutes * 60
        if route.report_within_minutes
        else None,
    )
