"""The table-driven plugin: ops map categories to units in the directory file, no code."""

from chuishao.common.catalogue import Category
from chuishao.common.events import TicketSubmitted
from chuishao.router.decision import RoutingDecision
from chuishao.router.directory import Directory
from chuishao.router.hookspecs import hookimpl


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
def chuishao_route(ticket: TicketSubmitted, directory: Directory) -> RoutingDecision | None:
    route = next((r for r in directory.routes if r.category == ticket.category), None)
    if route is None:
        return None
    return RoutingDecision(
        lead=route.lead,
        co=route.co,
        level=route.level,
        whistle=route.whistle,
        priority=max(route.priority, ticket.priority, key=list(type(route.priority)).index),
        reason=f"routing table: {route.category}",
    )
