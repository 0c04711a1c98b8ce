"""A hand dispatch from the console names the person who made it on every dispatch it
causes (so the ticket's history does); one from a unit's key names nobody."""

from chuishao.router import manual
from unit.test_router_handlers import SNAP
from unit.test_router_manual_flow import waiting


def test_the_dispatches_of_a_hand_assignment_name_the_person() -> None:
    state, _ = waiting()

    def assigned(person: str | None) -> list[str | None]:
        command = manual.AssignTicket(
            ticket_id=state.ticket_id,
            lead="cg-yunxi",
            co=("grid-heyuan",),
            category="road_damage",
            person=person,
        )
        outcome = manual.assign(command, "qingshi-command", state, SNAP)
        assert outcome.events
        return [event.person for event in outcome.events]

    assert set(assigned("qingshi-centre")) == {"qingshi-centre"}
    assert set(assigned(None)) == {None}
