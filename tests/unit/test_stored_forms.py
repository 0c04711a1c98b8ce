"""What Redis keeps of intake's record, supervision's facts and sla's state: the JSON
(intake's and supervision's without the fields at their default), packed with the kind's
dictionary (chuishao.common.packing). Read back, each is equal to what was stored, at
every step of a history that touches every part of them (a discriminator or a default
that means something would not survive that), and JSON stored before packing reads
the same."""

from zoneinfo import ZoneInfo

from chuishao.common.events import TicketSubmitted
from chuishao.intake import projection
from chuishao.intake.records import TicketRecord
from chuishao.sla.decisions import TicketState, on_event
from chuishao.sla.policies import PolicyBook
from chuishao.supervision import ticket
from chuishao.supervision.ticket import SupervisedTicket
from support.monthly_history import generated
from support.supervision import scripted_day

ZONE = ZoneInfo("Asia/Shanghai")


def test_every_stored_value_reads_back_equal_and_smaller() -> None:
    book = PolicyBook.load()
    records: dict[str, TicketRecord] = {}
    facts: dict[str, SupervisedTicket] = {}
    states: dict[str, TicketState] = {}
    sizes = {"record": [0, 0], "facts": [0, 0], "state": [0, 0]}  # packed, full JSON

    def measured(kind: str, packed: bytes, full: str) -> None:
        sizes[kind][0] += len(packed)
        sizes[kind][1] += len(full.encode())

    for event in [*generated(seed=7, tickets=150).events, *scripted_day("R").events]:
        record = records.get(event.ticket_id)
        if record is None and isinstance(event, TicketSubmitted):
            records[event.ticket_id] = record = projection.created(event)
        elif record is not None:
            records[event.ticket_id] = record = projection.apply(record, event)
        if record is not None:
            assert TicketRecord.from_stored(record.stored()) == record
            assert TicketRecord.from_stored(record.model_dump_json()) == record  # as before
            measured("record", record.stored(), record.model_dump_json())
        folded = ticket.apply(facts.get(event.ticket_id), event, ZONE)
        facts[event.ticket_id] = folded
        assert SupervisedTicket.from_stored(folded.stored()) == folded
        assert SupervisedTicket.from_stored(folded.model_dump_json()) == folded
        measured("facts", folded.stored(), folded.model_dump_json())
        decision = on_event(states.get(event.ticket_id), event, book)
        if decision is not None:
            state = states[event.ticket_id] = decision.state
            assert TicketState.from_stored(state.stored()) == state
            assert TicketState.from_stored(state.model_dump_json()) == state
            measured("state", state.stored(), state.model_dump_json())
    for kind, (packed, full) in sizes.items():
        assert full > 0, kind
        assert packed < 0.5 * full, (kind, packed, full)
