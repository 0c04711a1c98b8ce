"""What one ticket adds to the counters of each scope. The projection keeps, for every
scope and day, the sum of these over all tickets: when an event changes a ticket, the
store adds `after − before`. So a ticket that is reopened, recategorised or placed late
moves its numbers instead of counting twice. Definitions: docs/supervision.md.

Scopes: `all`, `street:<code>`, `grid:<code>`, `category:<code>` count tickets;
`unit:<id>` counts one unit's part in each ticket it was summoned to, and
`street_unit:<street>/<id>` the same for the tickets of one street. For 每月一题,
`problem:<street>/<grid>/<category>` counts the reports of one problem (`reports`: the
ticket and the reports linked to it) and `problem_reporter:<…same…>` how many of them
each reporter (by pseudonym) made.

A proactive ticket (未诉先办, channel proactive) counts in none of the figures the rates
and the handling time are made of (ASSESSED): those measure the answer to residents'
demands, and a centre that opens and closes its own tickets must not raise its rates by
it. It counts as `proactive` (and `proactive_resolved`) instead, and in the working
figures (open, overdue, states, whistles) like any ticket.
"""

from collections import Counter
from collections.abc import Hashable
from datetime import datetime
from typing import TypeVar

from chuishao.common.domain import Rating, Role, Whistle
from chuishao.common.status import Status
from chuishao.supervision.exemptions import exempted, ticket_appeals
from chuishao.supervision.ticket import SupervisedTicket, UnitPart

SATISFIED = frozenset({Rating.SATISFIED, Rating.BASICALLY_SATISFIED})
# The counters of the rates (their numerators and denominators) and of the handling time.
ASSESSED = frozenset(
    {
        "received",
        "answered_directly",
        "dispatched",
        "answerable",
        "manual_dispatch",
        "acknowledged",
        "responded",
        "responded_on_time",
        "resolved",
        "resolved_on_time",
        "rated",
        "satisfied",
        *(f"rated_{rating}" for rating in Rating),
        "closed_unrated",
        "feedback_ended",
        "closed",
        "handled",
        "handling_seconds",
    }
)
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


def handling(start: datetime | None, end: datetime | None) -> dict[str, int]:
    """办理时长: whole seconds from the dispatch to the resolution, elapsed (calendar)
    time, and the count it was taken over; nothing while unresolved or without a start."""
    if start is None or end is None:
        return {}
    return {"handled": 1, "handling_seconds": max(round((end - start).total_seconds()), 0)}


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
        **handling(facts.dispatched_at, facts.resolved_at),
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
        **handling(part.dispatched_at, part.signed_off_at),
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


def apart(facts: SupervisedTicket, counts: dict[str, int]) -> dict[str, int]:
    """A proactive ticket's counts: out of the assessed figures, into its own."""
    if not facts.proactive:
        return counts
    kept = {name: n for name, n in counts.items() if name not in ASSESSED}
    return {
        **kept,
        "proactive": 1,
        "proactive_resolved": counts.get("resolved", 0),
    }


def problem(facts: SupervisedTicket) -> str | None:
    """The 每月一题 key of a resident's ticket placed in a street and grid: street/grid/category."""
    if facts.proactive or not (facts.street and facts.grid and facts.category):
        return None
    return f"{facts.street}/{facts.grid}/{facts.category}"


def problem_counts(facts: SupervisedTicket) -> tuple[int, dict[str, int]]:
    """How many reports the ticket stands for (itself and those linked to it), and how
    many of them each reporter made."""
    refs = [facts.reporter_ref, *facts.linked_reporters.values()]
    return 1 + len(facts.linked_reports), dict(Counter(ref for ref in refs if ref))


def contributions(facts: SupervisedTicket | None) -> Contributions:
    """(scope, counter) → what this ticket adds; zeros left out."""
    if facts is None:
        return {}
    result: Contributions = {}
    counts = {**apart(facts, ticket_counts(facts)), **ticket_appeals(facts)}
    for scope in ticket_scopes(facts):
        result.update({(scope, name): n for name, n in counts.items() if n})
    key = problem(facts)
    if key is not None:
        reports, reporters = problem_counts(facts)
        result[(f"problem:{key}", "reports")] = reports
        result.update({(f"problem_reporter:{key}", ref): n for ref, n in reporters.items()})
    for unit_id, part in facts.units.items():
        # Upheld appeals (免责) first: a proactive ticket's exemption stays out of the rates.
        counts = apart(facts, exempted(facts, unit_id, unit_counts(facts, unit_id, part)))
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
