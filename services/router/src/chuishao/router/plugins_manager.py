"""Finds and loads category plugins, and asks them."""

from importlib.metadata import entry_points

import pluggy
import structlog

from chuishao.common.categories import Category
from chuishao.router import hookspecs
from chuishao.router.decision import RoutingDecision, RoutingRequest
from chuishao.router.directory import Directory

log = structlog.get_logger()


class PluginError(RuntimeError):
    """A plugin named by an entry point could not be loaded."""


def plugin_manager(*extra: object) -> pluggy.PluginManager:
    """Every plugin installed under the entry-point group, plus `extra` ones (tests)."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for point in entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        if manager.get_plugin(point.name) is not None:
            continue
        try:
            manager.register(point.load(), name=point.name)
        except Exception as error:
            # A router that silently lost a plugin would misroute its categories.
            raise PluginError(f"category plugin {point.name!r} ({point.value}): {error}") from error
    for plugin in extra:
        manager.register(plugin)
    return manager


class Dispatcher:
    """Asks the plugins, in order, who must act."""

    def __init__(self, manager: pluggy.PluginManager, directory: Directory) -> None:
        self.manager = manager
        self.directory = directory

    def plugin_names(self) -> list[str]:
        return sorted(name for name, _ in self.manager.list_name_plugin() if name)

    def categories(self) -> list[Category]:
        found: dict[str, Category] = {}
        for batch in self.manager.hook.chuishao_categories(directory=self.directory):
            for category in batch:
                if category.code in found:
                    log.warning("category_served_twice", category=category.code)
                    continue
                found[category.code] = category
        return sorted(found.values(), key=lambda c: c.code)

    def decide(self, request: RoutingRequest) -> RoutingDecision | None:
        decision: RoutingDecision | None = self.manager.hook.chuishao_route(
            request=request, directory=self.directory
        )
        return decision
