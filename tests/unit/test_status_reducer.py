"""One status reducer (chuishao.common.status): intake's record and supervision's facts,
fed the same events, are always in the same state. Each named sequence below is one where
the two used to disagree."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from chuishao.common.domain import DeclineReason, Level, Role, Whistle
from chuishao.common.events import (
    Event,
    ReportSplit,
    TicketAcknowledged,
    TicketAwaitingResident,
    TicketClosed,
    TicketDeclined,
    TicketDispatched,
    TicketNeedsManualDispatch,
    TicketReopened,
    TicketResidentReplied,
    TicketResolved,
    TicketTransferred,
    UnitSignedOff,
)
from chuishao.common.status import Progress, Status, reduce, started
from chuishao.intake import projection
from chuishao.intake.records import TicketRecord
from chuishao.supervision import ticket
from chuishao.supervision.ticket import SupervisedTicket
from support.factories import submitted

ZONE = ZoneInfo("Asia/Shanghai")
UNITS = ("grid-a", "grid-b", "grid-c")
Step = tuple[str, str]


class Story:
    """Events of one ticket, one step at a time, as the services would write them."""

    def __init__(self) -> None:
        self.submit = submitted()
        self.at = self.submit.occurred_at
        self.declines = 0
        self.reopens = 0

    def _about(self, kind: type[Event], **fields: Any) -> Event:
        self.at += timedelta(minutes=1)
        return kind.about(
            ticket_id=self.submit.ticket_id,
            correlation_id=self.submit.correlation_id,
            producer="test",
            occurred_at=self.at,
            **fields,
        )

    def event(self, step: Step) -> Event:
        verb, unit = step
        match verb:
            case "dispatch":
                return self._about(
                    TicketDispatched,
                    unit_id=unit,
                    unit_name=unit,
                    role=Role.LEAD,
                    level=Level.COMMUNITY,
                    whistle=Whistle.DAILY,
                    category=self.submit.category,
                    priority=self.submit.priority,
                    description=self.submit.description,
                    location=self.submit.location,
                    reason="test",
                )
            case "manual":
                return self._about(TicketNeedsManualDispatch, category=None, reason="no rule")
            case "ack":
                return self._about(TicketAcknowledged, unit_id=unit)
            case "decline":
                self.declines += 1
                return self._about(
                    TicketDeclined,
                    unit_id=unit,
                    reason_code=DeclineReason.WRONG_LOCATION,
                    bounces=self.declines,
                )
            case "transfer":
                return self._about(
                    TicketTransferred, from_unit_id=unit, to_unit_id="grid-z", reason="不归我们"
                )
            case "await":
                return self._about(TicketAwaitingResident, unit_id=unit, note="等居民开门")
            case "reply":
                return self._about(TicketResidentReplied, note="在家")
            case "resolve":
                return self._about(TicketResolved, units=(unit,), note="已修好")
            case "reopen":
                self.reopens += 1
                return self._about(TicketReopened, units=(unit,), reopen_count=self.reopens)
            case "close":
                return self._about(TicketClosed, reason="withdrawn")
        raise AssertionError(verb)


def both(steps: list[Step]) -> list[tuple[Status, Status]]:
    """(intake's status, supervision's status) after each step."""
    story = Story()
    record: TicketRecord = projection.created(story.submit)
    facts: SupervisedTicket = ticket.apply(None, story.submit, ZONE)
    seen = [(record.status, facts.status)]
    for step in steps:
        event = story.event(step)
        record = projection.apply(record, event)
        facts = ticket.apply(facts, event, ZONE)
        seen.append((record.status, facts.status))
    return seen


def agree(steps: list[Step]) -> Status:
    seen = both(steps)
    for at, (intake, supervision) in enumerate(seen):
        assert intake == supervision, (steps[:at], intake, supervision)
    return seen[-1][0]


def test_a_unit_summoned_again_must_report_for_duty_again() -> None:
    """grid-a reported, handed its part on, then was summoned again: it owes a report."""
    steps = [("dispatch", "grid-a"), ("ack", "grid-a"), ("dispatch", "grid-b")]
    steps += [("transfer", "grid-a"), ("ack", "grid-b"), ("dispatch", "grid-a")]
    assert agree(steps) == Status.DISPATCHED


def test_a_dispatch_landing_after_the_resolution_summons_nobody() -> None:
    steps = [("dispatch", "grid-a"), ("ack", "grid-a"), ("resolve", "grid-a")]
    steps += [("dispatch", "grid-b"), ("reopen", "grid-a"), ("ack", "grid-a")]
    assert agree(steps) == Status.IN_PROGRESS


def test_waiting_for_the_resident_and_the_reply_move_the_status_alike() -> None:
    assert agree([("manual", ""), ("await", "grid-a")]) == Status.AWAITING_RESIDENT
    assert agree([("dispatch", "grid-a"), ("reply", "")]) == Status.IN_PROGRESS


def test_a_closed_ticket_stays_closed() -> None:
    assert agree([("dispatch", "grid-a"), ("close", ""), ("reopen", "grid-a")]) == Status.CLOSED


def test_a_linked_report_starts_linked_and_a_split_routes_it_again() -> None:
    """A linked report has no events of its own: its lead's ReportSplit frees it."""
    report = started("T20260105000002", linked=True)
    assert report.status == Status.LINKED
    split = ReportSplit.about(
        ticket_id="T20260105000001",
        correlation_id="c",
        producer="intake",
        occurred_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        report_ticket_id="T20260105000002",
        split_by="grid-a",
    )
    assert reduce(report, split).status == Status.SUBMITTED
    lead = Progress(ticket_id="T20260105000001", status=Status.IN_PROGRESS)
    assert reduce(lead, split) is lead
    record = projection.created(submitted(ticket_id="T20260105000002"), linked_to="T1")
    assert projection.apply(record, split).status == Status.SUBMITTED


steps_strategy = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "dispatch",
                "manual",
                "ack",
                "decline",
                "transfer",
                "await",
                "reply",
                "resolve",
                "reopen",
                "close",
            ]
        ),
        st.sampled_from(UNITS),
    ),
    max_size=14,
)


@settings(max_examples=300, deadline=None)
@given(steps_strategy)
def test_intake_and_supervision_agree_on_every_sequence(steps: list[Step]) -> None:
    agree(steps)


def test_a_report_for_duty_made_before_the_answer_to_a_reopening_stands() -> None:
    """不满意 reopens the ticket to grid-a at once; the router's fresh dispatch follows. A
    report for duty made between the two must not be undone by the dispatch (a race the
    demo found beside a busy core)."""
    steps = [("dispatch", "grid-a"), ("ack", "grid-a"), ("resolve", "grid-a")]
    steps += [("reopen", "grid-a"), ("ack", "grid-a"), ("dispatch", "grid-a")]
    assert agree(steps) == Status.IN_PROGRESS
    story = Story()
    record = projection.created(story.submit)
    acknowledged_at = None
    for step in steps:
        event = story.event(step)
        record = projection.apply(record, event)
        if step[0] == "ack":
            acknowledged_at = event.occurred_at
    [part] = record.assignments
    assert part.acknowledged_at == acknowledged_at
    assert not part.owes_acknowledgement


def test_a_unit_that_returned_its_part_and_is_summoned_again_owes_a_new_report() -> None:
    steps = [("dispatch", "grid-a"), ("ack", "grid-a"), ("decline", "grid-a")]
    steps += [("dispatch", "grid-a")]
    assert agree(steps) == Status.DISPATCHED


def test_a_sign_off_made_before_the_answer_to_a_reopening_stands_too() -> None:
    """A co-unit reported for duty and signed off on the reopened ticket before the
    router's dispatch landed: intake must keep the sign-off (it rebuilt the part and the
    unit owed it again; found by a review)."""
    story = Story()
    record = projection.created(story.submit)
    steps: list[Step] = [("dispatch", "grid-a"), ("ack", "grid-a"), ("resolve", "grid-a")]
    steps += [("reopen", "grid-a"), ("ack", "grid-a")]
    for step in steps:
        record = projection.apply(record, story.event(step))
    signed = story._about(UnitSignedOff, unit_id="grid-a", note="又修了一遍")
    record = projection.apply(record, signed)
    record = projection.apply(record, story.event(("dispatch", "grid-a")))
    [part] = record.assignments
    assert part.signed_off_at == signed.occurred_at
    assert part.acknowledged_at is not None
