"""Who may know of which tickets (docs/intake.md, "Who may do what").

A unit knows the tickets sent to it; a street's command centre its street's; a district
its district's streets; the city level (its 12345 centre, its hotline operators) every
ticket; a resident the one ticket behind the link. A ticket no rule placed on a street is
known below the city level only to the command centre the router left it to (the
`arbiter_id` of its TicketNeedsManualDispatch, whose place it lies in), so it can be
dispatched by hand; until then, and when nothing places it at all, only the city level
and the operators know of it. A linked report is placed where its lead is. Every
supervisor also knows the tickets it was summoned to. A ticket outside the caller's scope
is answered exactly like a ticket that does not exist, so ids cannot be probed.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chuishao.common.domain import Level

if TYPE_CHECKING:
    from chuishao.intake.lifecycle import Actor
    from chuishao.intake.records import TicketRecord


@dataclass(frozen=True)
class CallerScope:
    """The place a supervisor answers for. The empty scope (every unit's) adds nothing
    to the tickets sent to the caller itself."""

    streets: frozenset[str] = frozenset()
    everywhere: bool = False  # the city level

    @classmethod
    def of_supervisor(cls, level: Level, streets: Iterable[str]) -> "CallerScope":
        if level == Level.CITY:
            return cls(everywhere=True)
        return cls(frozenset(streets))


NOWHERE = CallerScope()
EVERYWHERE = CallerScope(everywhere=True)


def can_see(actor: "Actor", record: "TicketRecord") -> bool:
    """Whether the caller may know this ticket exists (and read it)."""
    if actor.kind == "operator":
        return True
    if actor.kind == "resident":
        return actor.id == record.ticket_id
    if record.ever_assigned(actor.id):
        return True
    if actor.kind != "supervisor":
        return False
    scope = actor.scope
    if scope.everywhere:
        return True
    if record.street is None:
        return record.arbiter == actor.id
    return record.street in scope.streets
