"""Random command sequences against the state machine (decide + apply, no servers):
the invariants hold whatever happens."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chuishao.common import commands as c
from chuishao.common.domain import (
    DeclineReason,
    Location,
    Priority,
    Rating,
    Role,
)
from chuishao.common.events import Event, TicketDispatched, TicketResolved, TicketSubmitted
from chuishao.intake.lifecycle import Actor, CommandRejected, EventIds, Status, decide
from chuishao.intake.projection import apply
from chuishao.intake.records import TicketRecord
from chuishao.intake.scopes import EVERYWHERE
from support.factories import REPORT_FIELDS, dispatch_fields, submitted_record

UNITS = ("grid-a", "police-b", "bus-c")
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TICKET = "T20260302000001"
# The report every sequence starts from.
REPORT = REPORT_FIELDS | {"description": "消防箱", "location": Location(grid_code="G1")}

actors = st.sampled_from(
    [
        *(Actor("unit", unit) for unit in UNITS),
        Actor("supervisor", "street-centre", EVERYWHERE),
        Actor("operator", "hotline"),
        Actor("resident", TICKET),
    ]
)
# Free text as people type it: control characters are refused by the commands (FreeText).
notes = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=20)
commands = st.one_of(
    st.builds(c.AcknowledgeTicket, ticket_id=st.just(TICKET)),
    st.builds(
        c.DeclineTicket, ticket_id=st.just(TICKET), reason_code=st.sampled_from(DeclineReason)
    ),
    st.builds(c.AddProgressNote, ticket_id=st.just(TICKET), note=notes),
    st.builds(
        c.RequestExtension, ticket_id=st.just(TICKET), extra_hours=st.floats(0.5, 72), reason=notes
    ),
    st.builds(
        c.DecideExtension,
        ticket_id=st.just(TICKET),
        unit_id=st.sampled_from(UNITS),
        approve=st.booleans(),
    ),
    st.builds(
        c.TransferTicket, ticket_id=st.just(TICKET), to_unit_id=st.sampled_from(UNITS), reason=notes
    ),
    st.builds(c.AwaitResident, ticket_id=st.just(TICKET), note=notes),
    st.builds(c.RecordResidentReply, ticket_id=st.just(TICKET)),
    st.builds(c.ResolveTicket, ticket_id=st.just(TICKET), note=notes),
    st.builds(c.RateTicket, ticket_id=st.just(TICKET), rating=st.sampled_from(Rating)),
    st.builds(
        c.CloseTicket,
        ticket_id=st.just(TICKET),
        reason=st.sampled_from(["feedback_window_elapsed", "duplicate", "withdrawn"]),
    ),
    st.builds(
        c.RecategoriseTicket,
        ticket_id=st.just(TICKET),
        category=st.sampled_from(["fire_box", "parking"]),
        priority=st.sampled_from(Priority),
    ),
)
# A step is a command from someone, or the router summoning a unit.
steps = st.lists(
    st.one_of(st.tuples(commands, actors), st.tuples(st.just("dispatch"), st.sampled_from(UNITS))),
    max_size=40,
)


def new_record() -> TicketRecord:
    submitted = TicketSubmitted.about(
        ticket_id=TICKET,
        correlation_id="c-1",
        producer="intake",
        occurred_at=START,
        **REPORT,
    )
    return submitted_record(submitted, START)


def dispatch(record: TicketRecord, unit: str, at: datetime) -> Event:
    return TicketDispatched.about(
        ticket_id=TICKET,
        correlation_id="c-1",
        producer="router",
        occurred_at=at,
        unit_id=unit,
        **dispatch_fields(REPORT)
        | {"unit_name": unit, "role": Role.LEAD if not record.assignments else Role.CO},
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_the_invariants_hold_for_any_sequence(sequence: list[tuple[object, object]]) -> None:
    record = new_record()
    was_closed = False
    for index, (what, who) in enumerate(sequence):
        now = START + timedelta(minutes=index + 1)
        before = record
        if what == "dispatch":
            events: list[Event] = [dispatch(record, str(who), now)]
        else:
            assert isinstance(what, c.TicketCommand)
            assert isinstance(who, Actor)
            try:
                events = decide(record, what, who, now, EventIds(None, TICKET))
            except CommandRejected:
                continue  # a refused command changes nothing: `record` is untouched
        for event in events:
            if isinstance(event, TicketResolved):
                # every summoned unit reported for duty and signed off before resolve
                assert all(a.acknowledged_at for a in record.active_assignments)
            record = apply(record, event)

        # history is append-only and every event bumps the version once
        assert record.history[: len(before.history)] == before.history
        assert len(record.history) == len(before.history) + len(events)
        assert record.version == before.version + len(events)
        # a closed ticket stays closed (nothing reopens it but a rating, which needs resolved)
        if was_closed:
            assert record.status == Status.CLOSED
        was_closed = record.status == Status.CLOSED
        # in progress means every active unit has reported for duty
        if record.status == Status.IN_PROGRESS:
            assert all(a.acknowledged_at for a in record.active_assignments)
        if record.status == Status.RESOLVED:
            assert not any(a.owes_sign_off for a in record.active_assignments)


def test_a_closed_ticket_refuses_every_command() -> None:
    record = new_record()
    record = apply(record, dispatch(record, "grid-a", START))
    record = apply(
        record,
        decide(
            record,
            c.CloseTicket(ticket_id=TICKET, reason="withdrawn"),
            Actor("supervisor", "s", EVERYWHERE),
            START,
            EventIds(None, TICKET),
        )[0],
    )
    assert record.status == Status.CLOSED
    for command in (
        c.AcknowledgeTicket(ticket_id=TICKET),
        c.RateTicket(ticket_id=TICKET, rating=Rating.UNSATISFIED),
    ):
        with pytest.raises(CommandRejected) as refused:
            decide(record, command, Actor("operator", "o"), START, EventIds(None, TICKET))
        assert refused.value.status_code == 409
