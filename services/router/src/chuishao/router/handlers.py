"""One function per event the router consumes: the event and the ticket's routing state
in, a RoutingResult (events to publish, state to save) out. No I/O here."""

from chuishao.common.domain import Priority, Role
from chuishao.common.events import (
    Event,
    TicketDeclined,
    TicketEscalated,
    TicketRecategorised,
    TicketReopened,
    TicketSubmitted,
    TicketTransferred,
    TicketTriaged,
)
from chuishao.router import danger
from chuishao.router.emit import RoutingResult, dispatch, summon, to_manual_dispatch
from chuishao.router.snapshot import PRODUCER, Snapshot
from chuishao.router.state import TicketRouting
from chuishao.router.units import Unit


def initial_state(ticket: TicketSubmitted, snap: Snapshot) -> TicketRouting:
    directory = snap.directory
    return TicketRouting(
        ticket_id=ticket.ticket_id,
        category=ticket.category,
        priority=ticket.priority,
        description=ticket.description,
        location=ticket.location,
        media_urls=ticket.media_urls,
        place=directory.locate(ticket.location) or directory.default_place(),
    )


def route_submitted(ticket: TicketSubmitted, snap: Snapshot) -> RoutingResult:
    state = initial_state(ticket, snap)
    found = danger.assess(ticket.description)
    if state.category is not None:
        # The reporter picked the category, and it is dispatched at once: only a life at
        # risk now (someone must ring 119/110/120) overrides their priority — a "road
        # damage" that is smoking with live wires and people by it.
        decided = _decide(ticket, state, snap) if not found.life_at_risk else None
        if decided is not None:
            return decided
        state = state.model_copy(update={"priority": Priority.EMERGENCY})
        # The category stands; the triage event carries the danger, so intake raises the
        # priority and notify rings the numbers.
        flagged = TicketTriaged.caused_by(
            ticket,
            producer=PRODUCER,
            occurred_at=snap.now(),
            category=state.category,
            confidence=1.0,
            method="category-given",
            accepted=True,
            danger=True,
            danger_kinds=found.kinds,
            call=found.call,
            call_message_zh=found.message_zh,
        )
        return _decide(ticket, state, snap).after(flagged)
    # Without a category the danger detector answers apart from triage: a danger now makes
    # the ticket an emergency even when triage is unsure (the emergency whistle's 30-minute
    # report-in once dispatched; the top of the manual queue and a 10-minute dispatch clock
    # before).
    if found.danger:
        state = state.model_copy(update={"priority": Priority.EMERGENCY})
    suggestion = snap.triage.classify(ticket.description)
    # The model decides with its own validated threshold; keywords alone use the policy's.
    accepted = suggestion.category is not None and (
        suggestion.auto
        if suggestion.auto is not None
        else suggestion.confidence >= snap.policy.triage_threshold
    )
    triaged = TicketTriaged.caused_by(
        ticket,
        producer=PRODUCER,
        occurred_at=snap.now(),
        category=suggestion.category,
        confidence=suggestion.confidence,
        method=suggestion.method,
        accepted=accepted,
        danger=found.danger,
        danger_kinds=found.kinds,
        call=found.call if found.life_at_risk else (),
        call_message_zh=found.message_zh if found.life_at_risk else None,
    )
    if not accepted:
        guess = (
            f"{suggestion.category} at {suggestion.confidence:.2f}"
            if suggestion.category
            else "none"
        )
        threshold = getattr(snap.triage, "threshold", snap.policy.triage_threshold)
        reason = f"triage unsure (suggested {guess}, threshold {threshold})"
        if found.danger:
            # The dispatcher reads this first in the queue: what danger, whom to ring.
            call = f"；{found.message_zh}" if found.life_at_risk and found.message_zh else ""
            reason = f"险情 danger ({', '.join(found.kinds)}{call}): {reason}"
        return to_manual_dispatch(ticket, state, reason, snap, suggestion).after(triaged)
    state = state.model_copy(update={"category": suggestion.category})
    return _decide(ticket, state, snap).after(triaged)


def _decide(cause: Event, state: TicketRouting, snap: Snapshot) -> RoutingResult:
    assert state.category is not None
    decision = snap.dispatcher.decide(state.routing_request(state.category))
    if decision is None:
        where = state.place.codes()[0] if state.place else "an unknown place"
        reason = f"no rule places category {state.category} at {where}"
        return to_manual_dispatch(cause, state, reason, snap)
    return summon(cause, state, decision, snap)


def recategorise(event: TicketRecategorised, state: TicketRouting, snap: Snapshot) -> RoutingResult:
    """A supervisor gave the ticket a category (or a priority). One waiting for manual
    dispatch is routed by it now; one already with its units keeps them, and later
    re-dispatches (a decline, a reopen) use the new category."""
    state = state.model_copy(update={"category": event.category, "priority": event.priority})
    if state.manual is None:
        return RoutingResult([], state)
    if event.category not in {entry.code for entry in snap.catalogue}:
        return RoutingResult([], state)  # still waiting: the centre assigns it by hand
    return _decide(event, state, snap)


def _next_candidate(state: TicketRouting, declined: str, role: Role, snap: Snapshot) -> Unit | None:
    """The plugin's alternates first (for the lead), then wider units of the same
    function; never one that declined, never one already on the ticket."""
    directory = snap.directory
    pool: list[Unit] = []
    if role == Role.LEAD:
        pool.extend(unit for unit_id in state.alternates if (unit := directory.get_unit(unit_id)))
    unit = directory.get_unit(declined)
    if unit is not None and state.place is not None:
        pool.extend(directory.candidates(unit.function, state.place))
    excluded = {*state.declined, *state.assigned()}
    return next((unit for unit in pool if unit.id not in excluded), None)


def redispatch_declined(
    decline: TicketDeclined, state: TicketRouting, snap: Snapshot
) -> RoutingResult:
    role = state.role_of(decline.unit_id)
    if role is None:  # a stale decline: the ticket already moved on from this unit
        return RoutingResult([], state)
    bounces = max(decline.bounces, state.bounces + 1)
    state = state.without(decline.unit_id).model_copy(
        update={"declined": (*state.declined, decline.unit_id), "bounces": bounces}
    )
    note = f": {decline.note}" if decline.note else ""
    why = f"{decline.unit_id} declined ({decline.reason_code}{note})"
    if bounces >= snap.policy.max_bounces:
        return to_manual_dispatch(decline, state, f"declined {bounces} times, last: {why}", snap)
    candidate = _next_candidate(state, decline.unit_id, role, snap)
    if candidate is None or state.category is None:
        return to_manual_dispatch(decline, state, f"{why}; no other unit can take it", snap)
    state = state.with_assignment(candidate.id, role).model_copy(update={"manual": None})
    return RoutingResult(
        [dispatch(decline, state, candidate, role, f"re-dispatched: {why}", snap)], state
    )


def reopen(event: TicketReopened, state: TicketRouting, snap: Snapshot) -> RoutingResult:
    """Back to the units that resolved it, with the complaint as the reason."""
    units = [
        u for unit_id in event.units or state.assigned() if (u := snap.directory.get_unit(unit_id))
    ]
    if not units or state.category is None:
        return to_manual_dispatch(event, state, "reopened, but none of its units is known", snap)
    reason = (
        f"reopened (#{event.reopen_count}) after an unsatisfied rating: {event.complaint or '-'}"
    )
    events = []
    for index, unit in enumerate(units):
        role = state.role_of(unit.id) or (Role.LEAD if index == 0 else Role.CO)
        state = state.with_assignment(unit.id, role)
        events.append(dispatch(event, state, unit, role, reason, snap))
    return RoutingResult(list(events), state.model_copy(update={"manual": None}))


def transfer(event: TicketTransferred, state: TicketRouting, snap: Snapshot) -> RoutingResult:
    role = state.role_of(event.from_unit_id) or Role.LEAD
    state = state.without(event.from_unit_id)
    target = snap.directory.get_unit(event.to_unit_id)
    why = f"transferred by {event.from_unit_id}: {event.reason}"
    if target is None or state.category is None:
        return to_manual_dispatch(
            event, state, f"{why}; {event.to_unit_id} is not in the directory", snap
        )
    if target.id in state.assigned():
        return RoutingResult([], state)
    state = state.with_assignment(target.id, role)
    return RoutingResult([dispatch(event, state, target, role, why, snap)], state)


def escalate(event: TicketEscalated, state: TicketRouting, snap: Snapshot) -> RoutingResult:
    """Summon whoever answers for the ticket's place at the new level (督办). A ticket
    still waiting for manual dispatch moves to that level's queue instead."""
    directory = snap.directory
    place = state.place or directory.default_place()
    unit = directory.supervisor(event.to_level, place) if place else None
    unit = unit or directory.last_resort()
    if state.manual is not None:
        if unit.id == state.manual.arbiter_id:
            return RoutingResult([], state)
        why = (
            f"not dispatched by {state.manual.arbiter_id} in time "
            f"(overdue by {event.overdue_seconds // 60} min): {state.manual.reason}"
        )
        moved = to_manual_dispatch(event, state, why, snap, arbiter=unit)
        assert moved.state is not None
        assert moved.state.manual is not None
        kept = moved.state.manual.model_copy(  # what triage suggested still helps the district
            update={
                "suggested_category": state.manual.suggested_category,
                "confidence": state.manual.confidence,
            }
        )
        return RoutingResult(moved.events, moved.state.model_copy(update={"manual": kept}))
    if unit.id in state.assigned() or state.category is None:
        return RoutingResult([], state)
    state = state.with_assignment(unit.id, Role.SUPERVISOR)
    reason = (
        f"escalated {event.from_level} → {event.to_level}: {event.clock} clock "
        f"overdue by {event.overdue_seconds // 60} min"
    )
    dispatched = dispatch(event, state, unit, Role.SUPERVISOR, reason, snap, level=event.to_level)
    return RoutingResult([dispatched], state)
