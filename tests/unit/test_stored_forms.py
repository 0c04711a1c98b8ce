"""What Redis keeps of intake's record and supervision's facts leaves out the fields at
their default; read back, each is equal to what was stored, at every step of a history
that touches every part of them (a discriminator or a default that means something
would not survive that)."""

from zoneinfo import ZoneInfo

from chuishao.common.events import TicketSubmitted
from chuishao.intake import projection
from chuishao.intake.records import TicketRecord
from chuishao.supervision import ticket
from chuishao.supervision.ticket import SupervisedTicket
from support.monthly_history import generated
from support.supervision import scripted_day

ZONE = ZoneInfo("Asia/Shanghai")


def test_every_record_and_facts_read_back_equal_and_smaller() -> None:
    records: dict[str, TicketRecord] = {}
    facts: dict[str, SupervisedTicket] = {}
    saved = whole = 0
    for event in [*generated(seed=7, tickets=150).events, *scripted_day("R").events]:
        record = records.get(event.ticket_id)
        if record is None and isinstance(event, TicketSubmitted):
            records[event.ticket_id] = record = projection.created(event)
        elif record is not None:
            records[event.ticket_id] = record = projection.apply(record, event)
        if record is not None:
            assert TicketRecord.model_validate_json(record.stored()) == record
        folded = ticket.apply(facts.get(event.ticket_id), event, ZONE)
        facts[event.ticket_id] = folded
        assert SupervisedTicket.model_validate_json(folded.stored()) == folded
        saved += len(folded.stored())
        whole += len(folded.model_dump_json())
    assert saved < 0.8 * whole
