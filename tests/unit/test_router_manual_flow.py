"""Issue 13 in the router's pure steps: a waiting ticket carries what sla needs for its
dispatch clock, is routed when recategorised, moves to the district's queue when its
clock escalates, and a street's hand assignment keeps it at the street's level."""

import pytest

from chuishao.common.domain import ClockKind, Level, Location, Priority
from chuishao.common.events import (
    TicketNeedsManualDispatch,
    TicketRecategorised,
)
from chuishao.router import handlers, manual
from chuishao.router.state import TicketRouting
from unit.test_router_handlers import AT, SNAP, dispatches, escalation, one, report

UNSURE = "和园小区这边有个情况想反映一下，麻烦来看看"


def waiting() -> tuple[TicketRouting, TicketNeedsManualDispatch]:
    outcome = handlers.route_submitted(report(None, UNSURE, Location(grid_code="HY-01")), SNAP)
    queued = one(outcome, TicketNeedsManualDispatch)
    assert isinstance(queued, TicketNeedsManualDispatch)
    assert outcome.state is not None
    return outcome.state, queued


def test_a_queued_ticket_names_its_centre_level_street_and_danger() -> None:
    _, queued = waiting()
    assert (queued.arbiter_id, queued.level, queued.street) == (
        "qingshi-command",
        Level.STREET,
        "qingshi",
    )
    assert queued.priority == Priority.NORMAL
    marked = handlers.route_submitted(
        report(None, UNSURE, Location(grid_code="HY-01"), priority=Priority.EMERGENCY), SNAP
    )
    assert one(marked, TicketNeedsManualDispatch).priority == Priority.EMERGENCY  # type: ignore[attr-defined]


def test_recategorising_a_waiting_ticket_routes_it() -> None:
    state, queued = waiting()
    event = TicketRecategorised.caused_by(
        queued,
        producer="intake",
        occurred_at=AT,
        category="fire_box",
        priority=Priority.NORMAL,
        changed_by="qingshi-command",
    )
    outcome = handlers.recategorise(event, state, SNAP)
    assert list(dispatches(outcome)) == ["grid-heyuan"]
    assert outcome.state is not None
    assert outcome.state.manual is None


def test_an_escalated_queue_moves_to_the_district_centre() -> None:
    state, queued = waiting()
    escalated = escalation(
        queued, clock=ClockKind.MANUAL_DISPATCH, from_level=Level.STREET, to_level=Level.DISTRICT
    )
    outcome = handlers.escalate(escalated, state, SNAP)
    moved = one(outcome, TicketNeedsManualDispatch)
    assert (moved.arbiter_id, moved.level) == ("district-yunxi", Level.DISTRICT)  # type: ignore[attr-defined]
    assert outcome.state is not None
    assert outcome.state.manual is not None
    assert outcome.state.manual.arbiter_id == "district-yunxi"


def test_a_street_hand_assignment_stays_at_the_street() -> None:
    state, _ = waiting()
    command = manual.AssignTicket(
        ticket_id=state.ticket_id, lead="cg-yunxi", category="road_damage"
    )
    by_street = manual.assign(command, "qingshi-command", state, SNAP)
    assert dispatches(by_street)["cg-yunxi"].level == Level.STREET
    district_state = state.model_copy(
        update={"manual": state.manual.model_copy(update={"arbiter_id": "district-yunxi"})}  # type: ignore[union-attr]
    )
    by_district = manual.assign(command, "district-yunxi", district_state, SNAP)
    assert dispatches(by_district)["cg-yunxi"].level == Level.DISTRICT


def test_an_explicit_level_above_the_assigning_centre_is_refused() -> None:
    state, _ = waiting()

    def at(level: Level) -> manual.AssignTicket:
        return manual.AssignTicket(
            ticket_id=state.ticket_id, lead="cg-yunxi", category="road_damage", level=level
        )

    for too_high in (Level.DISTRICT, Level.CITY):
        with pytest.raises(manual.AssignmentRejected) as refused:
            manual.assign(at(too_high), "qingshi-command", state, SNAP)
        assert refused.value.code == "level_above_centre"
    assert (
        dispatches(manual.assign(at(Level.STREET), "qingshi-command", state, SNAP))[
            "cg-yunxi"
        ].level
        == Level.STREET
    )
    district_state = state.model_copy(
        update={"manual": state.manual.model_copy(update={"arbiter_id": "district-yunxi"})}  # type: ignore[union-attr]
    )
    with pytest.raises(manual.AssignmentRejected):
        manual.assign(at(Level.CITY), "district-yunxi", district_state, SNAP)
    by_district = manual.assign(at(Level.DISTRICT), "district-yunxi", district_state, SNAP)
    assert dispatches(by_district)["cg-yunxi"].level == Level.DISTRICT
