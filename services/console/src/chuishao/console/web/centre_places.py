"""Where a command centre answers for, from the directory's read models: the streets of
its place, and the units that serve there (the ones it may summon by hand).

Only for showing and choosing: intake enforces the scope of every read and action
through the person token (a street's centre gets 404 for another street's ticket).
"""

from collections.abc import Iterable

from chuishao.common.places import PlaceName
from chuishao.common.roles import PersonRole
from chuishao.common.unit_contacts import UnitContact
from chuishao.console.auth import Person
from chuishao.console.service import Console

# Supervisors are summoned by escalation, not chosen as a handling unit.
SUPERVISOR_KINDS = frozenset({"command_centre", "district"})
# The most local units first in the form's list.
LEVEL_ORDER = {"community": 0, "street": 1, "district": 2, "city": 3}


def streets_of(console: Console, person: Person) -> frozenset[str] | None:
    """The street codes the person's centre answers for; None for the whole city."""
    if person.role == PersonRole.COMMAND_CENTRE:
        return frozenset({person.street}) if person.street else frozenset()
    if person.role == PersonRole.DISTRICT:
        return frozenset(
            p.code
            for p in console.places.all()
            if p.kind == "street" and p.parent == person.district
        )
    return None


def _ancestors(code: str, places: dict[str, PlaceName]) -> list[str]:
    chain: list[str] = []
    place = places.get(code)
    while place is not None and place.code not in chain:
        chain.append(place.code)
        place = places.get(place.parent) if place.parent else None
    return chain


def related_places(console: Console, streets: Iterable[str]) -> frozenset[str]:
    """The streets, every place inside them, and every place containing them: a unit
    covering any of these serves (part of) the centre's place."""
    places = {p.code: p for p in console.places.all()}
    wanted = set(streets)
    related: set[str] = set()
    for code in places:
        chain = _ancestors(code, places)
        if wanted & set(chain):  # inside one of the streets (or one of them)
            related.add(code)
    for street in wanted:
        related.update(_ancestors(street, places))
    return frozenset(related)


def serving_units(console: Console, person: Person) -> list[UnitContact]:
    """The handling units serving the centre's place, most local first."""
    units = [u for u in console.units.all() if u.kind not in SUPERVISOR_KINDS]
    streets = streets_of(console, person)
    if streets is not None:
        related = related_places(console, streets)
        units = [u for u in units if related & set(u.coverage)]
    return sorted(units, key=lambda u: (LEVEL_ORDER.get(u.level, 9), u.name))


def scope_name(console: Console, person: Person) -> str:
    if person.role == PersonRole.COMMAND_CENTRE:
        return console.place_name(person.street)
    if person.role == PersonRole.DISTRICT:
        return console.place_name(person.district)
    return "全市"
