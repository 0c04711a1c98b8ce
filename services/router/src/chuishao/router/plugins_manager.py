"""Finds and loads category plugins."""

import pluggy

from chuishao.common.catalogue import Category
from chuishao.common.events import TicketSubmitted
from chuishao.router import hookspecs
from chuishao.router.decision import RoutingDecision
from chuishao.router.directory import Directory


def plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
    return manager


class Dispatcher:
    """Asks the plugins, in order, who must act."""

    def __init__(self, manager: pluggy.PluginManager, directory: Directory) -> None:
        self.manager = manager
        self.directory = directory

    def categories(self) -> list[Category]:
        found: dict[str, Category] = {}
        for batch in self.manager.hook.chuishao_categories(directory=self.directory):
            for category in batch:
                found.setdefault(category.code, category)
        return sorted(found.values(), key=lambda c: c.code)

    def decide(self, ticket: TicketSubmitted) -> RoutingDecision | None:
        decision: RoutingDecision | None = self.manager.hook.chuishao_route(
            ticket=ticket, directory=self.directory
        )
        return decision
