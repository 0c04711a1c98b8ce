"""Each clock rule of docs/sla.md, on the pure core: facts in, clocks and events out."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chuishao.common.domain import ClockKind, Level, Location, Priority, Role, Whistle
from chuishao.common.events import (
    Event,
    ExtensionApproved,
    SlaBreached,
    SlaClockArmed,
    SlaWarning,
    TicketAcknowledged,
    TicketAwaitingResident,
    TicketClosed,
    TicketDeclined,
    TicketDispatched,
    TicketEscalated,
    TicketProgressNoted,
    TicketRecategorised,
    TicketReopened,
    TicketResidentReplied,
    TicketResolved,
)
from chuishao.common.ids import new_event_id
from chuishao.common.queries import ClockDeadline, ClockState
from chuishao.sla.decisions import TicketState, on_event, on_timer
from chuishao.sla.policies import PolicyBook

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, no holiday near
HOUR = 3600


class Story:
    """One ticket's life, told event by event to the sla core."""

    def __init__(self, ticket_id: str = "T-story") -> None:
        self.ticket_id = ticket_id
        self.book = PolicyBook.load()
        self.state: TicketState | None = None
        self.published: list[Event] = []

    def at(self, hours: float) -> datetime:
        return T0 + timedelta(hours=hours)

    def happen(self, kind: type[Event], hours: float, **fields: Any) -> list[Event]:
        event = kind(
            event_id=new_event_id(),
            occurred_at=self.at(hours),
            ticket_id=self.ticket_id,
            correlation_id="corr-1",
            causation_id=None,
            producer="intake",
            **fields,
        )
        return self.deliver(event)

    def deliver(self, event: Event) -> list[Event]:
        outcome = on_event(self.state, event, self.book)
        if outcome is None:
            return []
        self.state = outcome.state
        self.published += outcome.events
        return outcome.events

    def dispatch(
        self,
        unit: str,
        hours: float = 0,
        *,
        role: Role = Role.LEAD,
        level: Level = Level.COMMUNITY,
        priority: Priority = Priority.NORMAL,
        category: str = "fire_box",
    ) -> list[Event]:
        return self.happen(
            TicketDispatched,
            hours,
            unit_id=unit,
            unit_name=unit,
            role=role,
            level=level,
            whistle=Whistle.EMERGENCY if priority == Priority.EMERGENCY else Whistle.DAILY,
            category=category,
            priority=priority,
            description="test",
            location=Location(grid_code="HY-01"),
            reason="test",
        )

    def tick(self, hours: float) -> list[Event]:
        assert self.state is not None
        outcome = on_timer(self.state, self.at(hours), self.book)
        self.state = outcome.state
        self.published += outcome.events
        return outcome.events

    def clocks(self, hours: float) -> dict[str, ClockDeadline]:
        assert self.state is not None
        from chuishao.sla.replay import replay

        ticket = replay(self.ticket_id, self.state.facts, self.book)
        return {
            f"{c.kind}/{c.level}/{c.unit_id or '-'}/{c.cycle}": c.view(self.at(hours))
            for c in ticket.clocks.values()
        }

    def next_due(self) -> datetime | None:
        assert self.state is not None
        from chuishao.sla.replay import replay

        return replay(self.ticket_id, self.state.facts, self.book).next_due()


RESOLUTION = "resolution/community/-/0"


def types(events: list[Event]) -> list[str]:
    return [event.type for event in events]


def test_a_general_ticket_gets_one_48_hour_resolution_clock_from_its_dispatch() -> None:
    story = Story()
    armed = story.dispatch("grid-heyuan", hours=1)
    assert types(armed) == ["SlaClockArmed"]
    assert isinstance(armed[0], SlaClockArmed)
    assert armed[0].clock == ClockKind.RESOLUTION
    assert armed[0].deadline == story.at(49)
    assert armed[0].limit_seconds == 48 * HOUR
    assert list(story.clocks(1)) == [RESOLUTION]


def test_report_for_duty_stops_at_each_units_own_acknowledgement() -> None:
    story = Story()
    for unit in ("fire-rescue", "cg-yunxi", "zhujian"):
        story.dispatch(unit, role=Role.CO, level=Level.DISTRICT, priority=Priority.EMERGENCY)
    story.happen(TicketAcknowledged, 0.25, unit_id="fire-rescue")

    clocks = story.clocks(0.3)
    assert clocks["report_for_duty/district/fire-rescue/0"].state == ClockState.STOPPED
    assert clocks["report_for_duty/district/fire-rescue/0"].stop_reason == "acknowledged"
    assert clocks["report_for_duty/district/cg-yunxi/0"].state == ClockState.RUNNING
    assert clocks["report_for_duty/district/cg-yunxi/0"].deadline == story.at(0.5)

    breaches = [e for e in story.tick(0.5) if isinstance(e, SlaBreached)]
    assert sorted((b.clock, b.unit_id) for b in breaches) == [
        (ClockKind.REPORT_FOR_DUTY, "cg-yunxi"),
        (ClockKind.REPORT_FOR_DUTY, "zhujian"),
    ]


def test_a_declined_ticket_stops_that_units_report_for_duty_clock() -> None:
    story = Story()
    story.dispatch("grid-a", priority=Priority.URGENT)
    story.happen(TicketDeclined, 0.5, unit_id="grid-a", reason_code="wrong_location", bounces=1)
    story.dispatch("grid-b", hours=0.6, priority=Priority.URGENT)
    clocks = story.clocks(1)
    assert clocks["report_for_duty/community/grid-a/0"].stop_reason == "declined"
    assert clocks["report_for_duty/community/grid-b/0"].deadline == story.at(2.6)


def test_resolution_stops_at_resolve_and_nothing_stays_due() -> None:
    story = Story()
    story.dispatch("grid-heyuan")
    story.happen(TicketResolved, 10, units=("grid-heyuan",), note="fixed")
    clock = story.clocks(60)[RESOLUTION]
    assert clock.state == ClockState.STOPPED
    assert clock.stop_reason == "resolved"
    assert clock.elapsed_seconds == 10 * HOUR
    assert story.next_due() is None
    assert story.tick(60) == []


def test_clocks_pause_while_the_ticket_waits_on_the_resident() -> None:
    story = Story()
    story.dispatch("grid-heyuan")
    story.happen(TicketAwaitingResident, 10, unit_id="grid-heyuan", note="which door?")

    paused = story.clocks(30)[RESOLUTION]
    assert paused.state == ClockState.PAUSED
    assert paused.deadline is None
    assert paused.elapsed_seconds == 10 * HOUR
    assert story.next_due() is None
    assert story.tick(60) == []  # past the original deadline, but paused

    armed = story.happen(TicketResidentReplied, 30)
    assert [e.deadline for e in armed if isinstance(e, SlaClockArmed)] == [story.at(68)]
    resumed = story.clocks(40)[RESOLUTION]
    assert resumed.paused_seconds == 20 * HOUR
    assert resumed.elapsed_seconds == 20 * HOUR


def test_an_approved_extension_moves_the_resolution_deadline() -> None:
    story = Story()
    story.dispatch("grid-heyuan")
    armed = story.happen(
        ExtensionApproved, 20, unit_id="grid-heyuan", extra_seconds=24 * HOUR, approved_by="st"
    )
    assert [e.deadline for e in armed if isinstance(e, SlaClockArmed)] == [story.at(72)]
    assert story.clocks(20)[RESOLUTION].extension_seconds == 24 * HOUR
    assert story.tick(50) == []  # the old deadline passes quietly


def test_a_reopen_restarts_resolution_with_the_full_limit() -> None:
    story = Story()
    story.dispatch("grid-heyuan")
    story.happen(TicketResolved, 40, units=("grid-heyuan",), note="fixed")
    armed = story.happen(
        TicketReopened, 45, complaint="still broken", units=("grid-heyuan",), reopen_count=1
    )
    assert [(e.clock, e.deadline) for e in armed if isinstance(e, SlaClockArmed)] == [
        (ClockKind.RESOLUTION, story.at(93))
    ]
    clocks = story.clocks(45)
    assert clocks[RESOLUTION].state == ClockState.STOPPED
    assert clocks["resolution/community/-/1"].state == ClockState.RUNNING


def test_a_recategorisation_keeps_elapsed_and_paused_time() -> None:
    story = Story()
    story.dispatch("grid-heyuan")  # normal: 48 h, no report-for-duty clock
    story.happen(TicketAwaitingResident, 4, unit_id="grid-heyuan", note="photo?")
    story.happen(TicketResidentReplied, 9)  # 5 h paused
    story.happen(TicketRecategorised, 15, category="fire_box", priority="emergency", changed_by="x")

    clock = story.clocks(15)[RESOLUTION]
    # 10 h used of the emergency 24 h; paused time still counted as paused, not as used.
    assert clock.limit_seconds == 24 * HOUR
    assert clock.elapsed_seconds == 10 * HOUR
    assert clock.paused_seconds == 5 * HOUR
    assert clock.deadline == story.at(29)
    # The emergency policy's report-for-duty clock starts at the change, not retroactively.
    assert story.clocks(15)["report_for_duty/community/grid-heyuan/0"].started_at == story.at(15)


def test_a_recategorisation_to_a_shorter_limit_already_used_up_breaches_at_once() -> None:
    story = Story()
    story.dispatch("grid-heyuan")
    story.happen(TicketRecategorised, 30, category="fire_box", priority="emergency", changed_by="x")
    breached = [e for e in story.tick(30) if isinstance(e, SlaBreached)]
    assert [(b.clock, b.deadline) for b in breached] == [(ClockKind.RESOLUTION, story.at(24))]
    assert breached[0].overdue_seconds == 6 * HOUR


def test_all_clocks_of_a_ticket_are_visible_not_only_the_next() -> None:
    story = Story()
    story.dispatch("fire-rescue", level=Level.DISTRICT, priority=Priority.EMERGENCY)
    story.dispatch("cg-yunxi", role=Role.CO, level=Level.DISTRICT, priority=Priority.EMERGENCY)
    story.happen(TicketAcknowledged, 0.2, unit_id="fire-rescue")
    story.happen(TicketProgressNoted, 1, unit_id="fire-rescue", note="on site")
    states = {key: clock.state for key, clock in story.clocks(1).items()}
    assert states == {
        "resolution/district/-/0": ClockState.RUNNING,
        "first_response/district/-/0": ClockState.STOPPED,
        "report_for_duty/district/fire-rescue/0": ClockState.STOPPED,
        "report_for_duty/district/cg-yunxi/0": ClockState.RUNNING,
    }


def test_the_warning_comes_once_at_three_quarters_of_the_time() -> None:
    story = Story()
    story.dispatch("grid-heyuan")
    assert story.next_due() == story.at(36)
    assert story.tick(35.9) == []
    warnings = story.tick(36)
    assert types(warnings) == ["SlaWarning"]
    assert isinstance(warnings[0], SlaWarning)
    assert warnings[0].remaining_seconds == 12 * HOUR
    assert story.tick(37) == []
    assert story.next_due() == story.at(48)


def test_escalation_climbs_every_level_once_and_stops_at_the_city() -> None:
    story = Story()
    story.dispatch("grid-heyuan")
    climbed: list[tuple[Level, Level]] = []
    hours = 0.0
    for _ in range(12):
        due = story.next_due()
        if due is None:
            break
        hours = (due - T0).total_seconds() / HOUR
        for event in story.tick(hours):
            if isinstance(event, TicketEscalated):
                climbed.append((event.from_level, event.to_level))
        story.tick(hours)  # firing again at the same moment changes nothing
    assert climbed == [
        (Level.COMMUNITY, Level.STREET),
        (Level.STREET, Level.DISTRICT),
        (Level.DISTRICT, Level.CITY),
    ]
    breaches = [e for e in story.published if isinstance(e, SlaBreached)]
    assert [b.level for b in breaches] == [
        Level.COMMUNITY,
        Level.STREET,
        Level.DISTRICT,
        Level.CITY,
    ]
    # community 48 h, then the supervising levels' 24 h each
    assert hours == 48 + 24 + 24 + 24
    assert story.next_due() is None
    escalation_ids = [e.event_id for e in story.published if isinstance(e, TicketEscalated)]
    assert len(set(escalation_ids)) == 3


def test_the_escalation_arms_the_new_levels_clock_from_the_escalation_moment() -> None:
    story = Story()
    story.dispatch("grid-heyuan")
    events = story.tick(50)  # detected two hours late
    assert types(events) == ["SlaBreached", "TicketEscalated", "SlaClockArmed"]
    breached, escalated, armed = events
    assert isinstance(breached, SlaBreached)
    assert isinstance(escalated, TicketEscalated)
    assert breached.overdue_seconds == escalated.overdue_seconds == 2 * HOUR
    assert escalated.causation_id == breached.event_id
    assert isinstance(armed, SlaClockArmed)
    assert (armed.level, armed.deadline) == (Level.STREET, story.at(74))


def test_a_breach_found_after_downtime_skips_the_stale_warning_and_records_real_lateness() -> None:
    story = Story()
    story.dispatch("grid-heyuan")
    events = story.tick(48 + 7)
    assert "SlaWarning" not in types(events)
    breached = next(e for e in events if isinstance(e, SlaBreached))
    assert breached.overdue_seconds == 7 * HOUR


def test_a_report_for_duty_breach_escalates_and_a_later_resolution_breach_does_not_repeat_it() -> (
    None
):
    story = Story()
    story.dispatch("grid-heyuan", priority=Priority.URGENT)  # report in 2 h, resolve in 24 h
    escalated = [e for e in story.tick(2) if isinstance(e, TicketEscalated)]
    assert [(e.clock, e.from_level) for e in escalated] == [
        (ClockKind.REPORT_FOR_DUTY, Level.COMMUNITY)
    ]
    story.happen(TicketAcknowledged, 3, unit_id="grid-heyuan")
    later = story.tick(12) + story.tick(24)
    # First response and resolution breach at the community, but the ticket is already at
    # the street: they are reported, not escalated again.
    assert [(e.clock, e.level) for e in later if isinstance(e, SlaBreached)] == [
        (ClockKind.FIRST_RESPONSE, Level.COMMUNITY),
        (ClockKind.RESOLUTION, Level.COMMUNITY),
    ]
    assert not [e for e in later if isinstance(e, TicketEscalated)]


def test_a_redelivered_event_changes_nothing() -> None:
    story = Story()
    story.dispatch("grid-heyuan")
    event = TicketAcknowledged(
        event_id="ack-1",
        occurred_at=story.at(1),
        ticket_id=story.ticket_id,
        correlation_id="corr-1",
        causation_id=None,
        producer="intake",
        unit_id="grid-heyuan",
    )
    story.deliver(event)
    before = story.state
    assert story.deliver(event) == []
    assert story.state == before


def test_events_arriving_out_of_order_give_the_same_clocks() -> None:
    ordered, shuffled = Story("T-a"), Story("T-b")
    ordered.dispatch("u1", priority=Priority.EMERGENCY)
    ordered.happen(TicketAcknowledged, 0.1, unit_id="u1")
    shuffled.happen(TicketAcknowledged, 0.1, unit_id="u1")
    shuffled.dispatch("u1", priority=Priority.EMERGENCY)
    assert ordered.clocks(1) == shuffled.clocks(1)


def test_a_closed_ticket_stops_every_clock() -> None:
    story = Story()
    story.dispatch("u1", priority=Priority.EMERGENCY)
    story.happen(TicketClosed, 0.1, reason="duplicate")
    assert {c.state for c in story.clocks(1).values()} == {ClockState.STOPPED}
    assert story.next_due() is None


@pytest.mark.parametrize("hours", [0.0, 10.0])
def test_the_same_decision_twice_yields_the_same_event_ids(hours: float) -> None:
    first, second = Story("T-same"), Story("T-same")
    for story in (first, second):
        story.dispatch("grid-heyuan", hours=hours)
    a = first.tick(hours + 49)
    b = second.tick(hours + 49.5)  # a retry, later: same ids, JetStream drops the repeat
    decisions = (SlaBreached, TicketEscalated)
    assert [e.event_id for e in a if isinstance(e, decisions)] == [
        e.event_id for e in b if isinstance(e, decisions)
    ]
    assert len([e for e in a if isinstance(e, decisions)]) == 2


def test_a_report_for_duty_made_before_the_answer_to_a_reopening_arms_no_clock() -> None:
    """Reopened, the unit reported for duty, then the router's fresh dispatch landed: the
    unit owes nothing, so no report-for-duty clock runs and nothing breaches."""
    story = Story()
    story.dispatch("grid-a", priority=Priority.URGENT)
    story.happen(TicketAcknowledged, 0.5, unit_id="grid-a")
    story.happen(TicketResolved, 10, units=("grid-a",), note="fixed")
    story.happen(TicketReopened, 11, complaint="still broken", units=("grid-a",), reopen_count=1)
    story.happen(TicketAcknowledged, 11.1, unit_id="grid-a")
    armed = story.dispatch("grid-a", hours=11.2, priority=Priority.URGENT)
    assert [e for e in armed if getattr(e, "clock", None) == ClockKind.REPORT_FOR_DUTY] == []
    assert "report_for_duty/community/grid-a/1" not in story.clocks(11.2)
    late = [e for e in story.tick(20) if isinstance(e, SlaBreached)]
    assert [b for b in late if b.clock == ClockKind.REPORT_FOR_DUTY] == []
