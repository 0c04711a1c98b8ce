"""sla's state rebuilt from the events in TICKETS is the state sla had built live: the
same facts, so the same clocks, and its decisions already made stay made (a rebuilt
ticket does not escalate twice)."""

from datetime import timedelta

from chuishao.common.clock import ManualClock
from chuishao.common.events import Event
from chuishao.sla.decisions import on_event, on_timer, settle
from chuishao.sla.policies import PolicyBook
from chuishao.sla.rebuild import state_from
from support.factories import dispatched, submitted


def test_a_state_rebuilt_from_the_stream_has_every_fact_and_decides_nothing_again() -> None:
    book = PolicyBook.load()
    clock = ManualClock()
    report = submitted(clock)
    dispatch = dispatched(report)
    stream: list[Event] = [report, dispatch]  # what TICKETS holds, in order
    outcome = on_event(None, dispatch, book)
    assert outcome is not None
    stream += outcome.events  # SlaClockArmed
    later = dispatch.occurred_at + timedelta(hours=49)
    fired = on_timer(outcome.state, later, book)
    stream += fired.events  # breaches and the escalation
    assert any(e.type == "TicketEscalated" for e in fired.events)

    rebuilt = state_from(stream)
    assert rebuilt is not None
    assert [f.event_id for f in rebuilt.facts] == [f.event_id for f in fired.state.facts]
    # Committed as a restore commits it: nothing announced again, the same deadlines.
    restored = settle(rebuilt, book, [], [])
    assert restored.events == []
    assert restored.state.announced == fired.state.announced
    # Nothing is due again at the same moment: no second warning, breach or escalation.
    assert on_timer(restored.state, later, book).events == []
