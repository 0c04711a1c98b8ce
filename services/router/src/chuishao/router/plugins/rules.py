"""Declarative category rules, so a built-in plugin is a list of rules, not code.

A rule names units by function; the ticket's place picks the unit that covers it.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from chuishao.common.categories import Category
from chuishao.common.domain import Level, Priority, Whistle
from chuishao.router.decision import RoutingDecision, RoutingRequest
from chuishao.router.directory import Directory
from chuishao.router.hookspecs import hookimpl
from chuishao.router.units import Unit

URGENCY = list(Priority)


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
