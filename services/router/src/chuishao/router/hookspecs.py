"""The category plugin contract.

A plugin is a module or object with `hookimpl`-marked functions, registered under the
`chuishao.categories` entry-point group (see docs/router.md); the built-in plugins are
ordinary plugins registered the same way.
"""

import pluggy

from chuishao.common.categories import Category
from chuishao.router.decision import RoutingDecision, RoutingRequest
from chuishao.router.directory import Directory

PROJECT = "chuishao"
ENTRY_POINT_GROUP = "chuishao.categories"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def chuishao_categories(directory: Directory) -> list[Category]:  # type: ignore[empty-body]
    """The categories this plugin serves: code, name, description, keywords (also used
    by free-text triage) and Open311 attributes. Intake's `services` lists them."""


@hookspec(firstresult=True)
def chuishao_route(request: RoutingRequest, directory: Directory) -> RoutingDecision | None:
    """Who must act on this ticket, or None if this plugin does not place it (not its
    category, or no unit covers the place). The first answer wins."""
