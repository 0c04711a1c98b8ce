"""The category plugin contract. Plugins register under the `chuishao.categories`
entry-point group; the built-in ones are ordinary plugins too."""

import pluggy

from chuishao.common.catalogue import Category
from chuishao.common.events import TicketSubmitted
from chuishao.router.decision import RoutingDecision
from chuishao.router.directory import Directory

PROJECT = "chuishao"
ENTRY_POINT_GROUP = "chuishao.categories"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def chuishao_categories(directory: Directory) -> list[Category]:  # type: ignore[empty-body]
    """The categories this plugin serves (listed by intake's Open311 `services`)."""


@hookspec(firstresult=True)
def chuishao_route(ticket: TicketSubmitted, directory: Directory) -> RoutingDecision | None:
    """Who must act on this ticket, or None if this plugin does not place it."""
