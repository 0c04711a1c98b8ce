"""What one ticket adds to the counters of each scope. The projection keeps, for every
scope and day, the sum of these over all tickets: when an event changes a ticket, the
store adds `after − before`. So a ticket that is reopened, recategorised or placed late
moves its numbers instead of counting twice. Definitions: docs/supervision.md.

Scopes: `all`, `street:<code>`, `grid:<code>`, `category:<code>` count tickets;
`unit:<id>` counts one unit's part in each ticket it was summoned to, and
`street_unit:<street>/<id>` the same for the tickets of one street.
"""

from collections import Counter
from collections.abc import Hashable
from typing import TypeVar

from chuishao.common.domain import Rating, Role, Whistle
from chuishao.common.status import Status
from chuishao.supervision.ticket import SupervisedTicket, UnitPart

SATISFIED = frozenset({Rating.SATISFIED, Rating.BASICALLY_SATISFIED})
SCOPE_KINDS = ("street", "grid", "category", "unit")

Contributions = dict[tuple[str, str], int]
Key = TypeVar("Key", bound=Hashable)


def _ratings(
    facts: SupervisedTicket, unit_id: str | None = None, answerable: bool = True
) -> dict[str, int]:
    """The ratings given (one per rated resolution), and the resolutions whose rating
    window passed with none (a ticket closed `feedback_window_elapsed`): the latter is in
    no satisfaction count, only in the callback rate's denominator (`feedback_ended`)."""
    given = [r.rating for r in facts.ratings if unit_id is None or unit_id in r.units]
    unrated = int(facts.closed_unrated and answerable)
    return {
        "rated": len(given),
        "satisfied": sum(rating in SATISFIED for rating in given),
        **{f"rated_{rating}": given.count(rating) for rating in Rating},
        "closed_unrated": unrated,
        "feedback_ended": len(given) + unrated,
    }


def ticket_counts(facts: SupervisedTicket) -> dict[str, int]:
    # The ticket has responded once its lead unit has reported for duty (each lead, when a
    # whistle named several), and on time when each did in time. A supervisor summoned
    # by an escalation (督办) answers in its own unit rate only: summoning it must not
    # make a street's or district's response rate fall (issue 13).
    active = answering_units(facts)
    responded = facts.dispatched and bool(active) and all(p.acknowledged for p in active)
    resolved = facts.resolved_at is not None
    return {
        "received": int(facts.received_at is not None),
        "answered_directly": int(facts.answered_directly),
        "dispatched": int(facts.dispatched),
        "answerable": int(facts.dispatched),
        "manual_dispatch": int(facts.manual),
        "responded": int(responded),
        "responded_on_time": int(responded and not any(p.responded_late for p in active)),
        "resolved": int(resolved),
        "resolved_on_time": int(resolved and not facts.resolved_late),
        **_ratings(facts),
        "closed": int(facts.closed),
        "open": int(not facts.closed),
        "overdue": int(facts.overdue_since is not None),
        "bounces": facts.bounces,
        "reopened": facts.cycle,
        "escalated": int(bool(facts.escalations)),
        "linked_reports": len(facts.linked_reports),
        **{f"whistle_{w}": int(w in facts.whistles) for w in Whistle if w != Whistle.NONE},
        # The ticket's state now, so a street's board can count its own tickets by state.
        f"state_{facts.status}": 1,
    }


def answering_units(facts: SupervisedTicket) -> list[UnitPart]:
    """The units whose report makes the ticket responded: the lead units still on it;
    without one (the lead returned it and nobody replaced it yet), the co-units still on
    it. Supervisors summoned by an escalation never."""
    active = [p for p in facts.active_units.values() if p.role != Role.SUPERVISOR]
    leads = [p for p in active if p.role == Role.LEAD]
    return leads or active


def unit_counts(facts: SupervisedTicket, unit_id: str, part: UnitPart) -> dict[str, int]:
    # A unit that returned the ticket (退单) or handed it on (转办) answers for its
    # response, not for the resolution.
    answerable = part.active
    resolved = part.signed_off_at is not None
    overdue = facts.overdue_since is not None and answerable
    return {
        "received": 1,
        "dispatched": 1,
        "answerable": int(answerable),
        "acknowledged": int(part.acknowledged),
        "responded": int(part.responded_at is not None),
        "responded_on_time": int(part.responded_at is not None and not part.responded_late),
        "resolved": int(resolved),
        "resolved_on_time": int(resolved and not part.signed_off_late),
        **_ratings(facts, unit_id, answerable),
        "closed": int(facts.closed and answerable),
        "open": int(not facts.closed and answerable),
        "overdue": int(overdue),
        "bounces": part.declines,
        "reopened": facts.cycle if answerable else 0,
    }


def street_unit_scope(street: str, unit_id: str) -> str:
    return f"street_unit:{street}/{unit_id}"


def ticket_scopes(facts: SupervisedTicket) -> list[str]:
    scopes = ["all"]
    if facts.street:
        scopes.append(f"street:{facts.street}")
    if facts.grid:
        scopes.append(f"grid:{facts.grid}")
    if facts.category:
        scopes.append(f"category:{facts.category}")
    return scopes


def contributions(facts: SupervisedTicket | None) -> Contributions:
    """(scope, counter) → what this ticket adds; zeros left out."""
    if facts is None:
        return {}
    result: Contributions = {}
    counts = ticket_counts(facts)
    for scope in ticket_scopes(facts):
        result.update({(scope, name): n for name, n in counts.items() if n})
    for unit_id, part in facts.units.items():
        counts = unit_counts(facts, unit_id, part)
        result.update({(f"unit:{unit_id}", name): n for name, n in counts.items() if n})
        if facts.street:  # the unit's part in this street's tickets, for a street's board
            scope = street_unit_scope(facts.street, unit_id)
            result.update({(scope, name): n for name, n in counts.items() if n})
    return result


def difference(before: dict[Key, int], after: dict[Key, int]) -> dict[Key, int]:
    delta: Counter[Key] = Counter(after)
    delta.subtract(before)
    return {key: n for key, n in delta.items() if n}


def status_of(facts: SupervisedTicket | None) -> Status | None:
    return facts.status if facts is not None else None
