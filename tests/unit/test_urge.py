"""督办 by hand (UrgeTicket): a command centre urges a unit that still owes work; the
history records it, the status and clocks stay, and notify tells the unit."""

from datetime import timedelta

import pytest

from chuishao.common import commands as c
from chuishao.common.events import TicketUrged
from chuishao.intake.lifecycle import Actor, CommandRejected, EventIds, Status, decide
from chuishao.intake.projection import apply
from chuishao.intake.records import TicketRecord
from chuishao.intake.scopes import EVERYWHERE, CallerScope
from chuishao.notify.facts import Audience
from chuishao.notify.planning import notices_for
from unit.test_lifecycle_properties import START, TICKET, dispatch, new_record

CENTRE = Actor("supervisor", "qingshi-command", EVERYWHERE)


def dispatched_to(*units: str) -> TicketRecord:
    record = new_record()
    for unit in units:
        record = apply(record, dispatch(record, unit, START))
    return record


def test_a_centre_urges_a_unit_and_the_history_says_so() -> None:
    record = dispatched_to("grid-a")
    command = c.UrgeTicket(ticket_id=TICKET, unit_id="grid-a", note="请今天内到场")
    events = decide(record, command, CENTRE, START + timedelta(hours=1), EventIds(None, TICKET))
    assert len(events) == 1
    urged = events[0]
    assert isinstance(urged, TicketUrged)
    assert (urged.unit_id, urged.urged_by, urged.note) == (
        "grid-a",
        "qingshi-command",
        "请今天内到场",
    )
    after = apply(record, urged)
    assert after.status == record.status == Status.DISPATCHED
    assert after.clocks == record.clocks
    assert "督办 grid-a" in after.history[-1].summary
    assert "请今天内到场" in after.history[-1].summary
    assert after.history[-1].type == "TicketUrged"


def test_only_a_supervisor_urges() -> None:
    record = dispatched_to("grid-a", "police-b")
    command = c.UrgeTicket(ticket_id=TICKET, unit_id="grid-a")
    with pytest.raises(CommandRejected) as refused:
        decide(record, command, Actor("unit", "police-b"), START, EventIds(None, TICKET))
    assert refused.value.status_code == 403


def test_a_unit_not_on_the_ticket_cannot_be_urged() -> None:
    record = dispatched_to("grid-a")
    command = c.UrgeTicket(ticket_id=TICKET, unit_id="bus-c")
    with pytest.raises(CommandRejected) as refused:
        decide(record, command, CENTRE, START, EventIds(None, TICKET))
    assert refused.value.status_code == 409
    assert refused.value.field == "unit_id"
    assert "督办" in refused.value.message_zh


def test_another_streets_centre_gets_not_found() -> None:
    record = dispatched_to("grid-a").model_copy(update={"street": "qingshi"})
    other = Actor("supervisor", "liuan-command", CallerScope(frozenset({"liuan"})))
    command = c.UrgeTicket(ticket_id=TICKET, unit_id="grid-a")
    with pytest.raises(CommandRejected) as refused:
        decide(record, command, other, START, EventIds(None, TICKET))
    assert refused.value.status_code == 404


def test_notify_tells_the_urged_unit() -> None:
    record = dispatched_to("grid-a")
    urged = decide(
        record,
        c.UrgeTicket(ticket_id=TICKET, unit_id="grid-a"),
        CENTRE,
        START,
        EventIds(None, TICKET),
    )[0]
    notices = notices_for(urged, Audience())
    assert [(n.audience, n.recipient, n.template) for n in notices] == [
        ("unit", "grid-a", "urged_by_hand")
    ]
