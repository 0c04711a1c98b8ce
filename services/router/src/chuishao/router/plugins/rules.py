"""Declarative category rules, so a built-in plugin is a list of rules, not code.

A rule names units by function; the ticket's place picks the unit that covers it. Each
built-in plugin module declares its rules in the TOML file of its name beside it
(`roads.py` → `roads.toml`) and is `plugin = declared_plugin(__name__)`.
"""

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from chuishao.common.categories import Category
from chuishao.common.domain import Level, Priority, Whistle
from chuishao.router.decision import RoutingDecision, RoutingRequest
from chuishao.router.directory import Directory
from chuishao.router.hookspecs import hookimpl
from chuishao.router.plugins.attributes import declared_attribute, refuse_unknown
from chuishao.router.units import Unit

URGENCY = list(Priority)
# The keys of a declared rule that say who acts; the others describe its category.
ROUTING_KEYS = ("lead", "co", "co_if_mentioned", "whistle", "level", "report_within_seconds")


def most_urgent(*priorities: Priority) -> Priority:
    return max(priorities, key=URGENCY.index)


@dataclass(frozen=True)
class Rule:
    category: Category
    # Functions that may lead, in order: the first unit covering the place leads, the
    # others (and wider units of the same function) take over if it declines.
    lead: tuple[str, ...]
    co: tuple[str, ...] = ()
    # Co-handlers summoned only when the description mentions one of the words.
    co_if_mentioned: tuple[tuple[tuple[str, ...], str], ...] = ()
    whistle: Whistle = Whistle.DAILY
    level: Level | None = None
    report_within_seconds: int | None = None

    @classmethod
    def declared(cls, entry: dict[str, Any]) -> "Rule":
        """A rule from one `[[rules]]` table: the category's fields and the routing
        fields side by side, as the directory's `[[routes]]` are written."""
        fields = dict(entry)
        routing = {key: fields.pop(key) for key in ROUTING_KEYS if key in fields}
        refuse_unknown(fields, Category, "rule")
        attributes = tuple(
            declared_attribute(attribute, order)
            for order, attribute in enumerate(fields.pop("attributes", ()), start=1)
        )
        level = routing.get("level")
        return cls(
            category=Category.model_validate({**fields, "attributes": attributes}),
            lead=tuple(routing["lead"]),
            co=tuple(routing.get("co", ())),
            co_if_mentioned=tuple(
                (tuple(mention["words"]), mention["function"])
                for mention in routing.get("co_if_mentioned", ())
            ),
            whistle=Whistle(routing.get("whistle", Whistle.DAILY)),
            level=Level(level) if level is not None else None,
            report_within_seconds=routing.get("report_within_seconds"),
        )

    def decide(self, request: RoutingRequest, directory: Directory) -> RoutingDecision | None:
        place = request.place
        if place is None:
            return None
        leads = _unique(unit for fn in self.lead for unit in directory.candidates(fn, place))
        if not leads:
            return None
        lead = leads[0]
        functions = [
            *self.co,
            *(fn for words, fn in self.co_if_mentioned if request.mentions(words)),
        ]
        co = [
            unit
            for unit in _unique(directory.find(fn, place) for fn in functions)
            if unit.id != lead.id
        ]
        priority = most_urgent(self.category.default_priority, request.priority)
        whistle = self.whistle
        if whistle == Whistle.DAILY and priority == Priority.EMERGENCY and co:
            whistle = Whistle.EMERGENCY  # an operator marked it an emergency: all at once
        summoned = ", ".join(f"{unit.function}={unit.id}" for unit in (lead, *co))
        return RoutingDecision(
            lead=lead.id,
            co=tuple(unit.id for unit in co),
            alternates=tuple(unit.id for unit in leads[1:]),
            level=self.level or lead.level,
            whistle=whistle,
            priority=priority,
            reason=f"category {self.category.code} at {place.codes()[0]}: {summoned}",
            report_within_seconds=self.report_within_seconds,
        )


def _unique(units: Iterable[Unit | None]) -> list[Unit]:
    seen: dict[str, Unit] = {}
    for unit in units:
        if unit is not None and unit.id not in seen:
            seen[unit.id] = unit
    return list(seen.values())


class RulePlugin:
    """A plugin made of rules: serves their categories, routes by them."""

    def __init__(self, *rules: Rule) -> None:
        self.rules = {rule.category.code: rule for rule in rules}

    @hookimpl
    def chuishao_categories(self, directory: Directory) -> list[Category]:
        return [rule.category for rule in self.rules.values()]

    @hookimpl
    def chuishao_route(
        self, request: RoutingRequest, directory: Directory
    ) -> RoutingDecision | None:
        rule = self.rules.get(request.category)
        return rule.decide(request, directory) if rule else None


def declared_plugin(module: str) -> RulePlugin:
    """The plugin whose rules are declared in the TOML file named after `module`, in its
    package: one reader for every built-in, so a plugin module holds no code of its own."""
    package, _, name = module.rpartition(".")
    text = resources.files(package).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return RulePlugin(*(Rule.declared(entry) for entry in tomllib.loads(text)["rules"]))
