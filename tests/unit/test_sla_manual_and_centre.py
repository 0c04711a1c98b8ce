"""The dispatch clock of a ticket waiting for manual dispatch, and the street's command
centre summoned before the district (centre_first), on the pure sla core."""

from chuishao.common.domain import ClockKind, Level, Priority, Role
from chuishao.common.events import SlaClockArmed, TicketEscalated, TicketNeedsManualDispatch
from unit.test_sla_clocks import Story


def queue(story: Story, hours: float, level: Level, priority: Priority = Priority.NORMAL) -> None:
    story.happen(
        TicketNeedsManualDispatch,
        hours,
        category=None,
        reason="triage unsure",
        arbiter_id="qingshi-command" if level == Level.STREET else "district-yunxi",
        level=level,
        priority=priority,
        street="qingshi",
    )


def escalations(story: Story) -> list[tuple[str, str, str]]:
    return [
        (e.clock, e.from_level, e.to_level)
        for e in story.published
        if isinstance(e, TicketEscalated)
    ]


def test_a_waiting_ticket_has_a_30_minute_dispatch_clock_that_escalates_to_the_district() -> None:
    story = Story()
    queue(story, 0, Level.STREET)
    armed = [e for e in story.published if isinstance(e, SlaClockArmed)]
    assert [(e.clock, e.level, e.limit_seconds) for e in armed] == [
        (ClockKind.MANUAL_DISPATCH, Level.STREET, 30 * 60)
    ]
    story.tick(0.6)
    assert escalations(story) == [("manual_dispatch", "street", "district")]
    district = [
        e for e in story.published if isinstance(e, SlaClockArmed) and e.level == Level.DISTRICT
    ]
    assert district[0].clock == ClockKind.MANUAL_DISPATCH  # the district's queue, not a resolution


def test_a_dangerous_waiting_ticket_gets_10_minutes_and_a_dispatch_stops_the_clock() -> None:
    story = Story()
    queue(story, 0, Level.STREET, Priority.EMERGENCY)
    assert story.clocks(0)["manual_dispatch/street/-/0"].limit_seconds == 10 * 60
    story.dispatch("cg-yunxi", 0.1, level=Level.STREET, category="road_damage")
    assert story.clocks(0.1)["manual_dispatch/street/-/0"].stop_reason == "dispatched"
    story.tick(1)
    assert escalations(story) == []


def test_a_missed_emergency_report_in_summons_the_street_centre_before_the_district() -> None:
    story = Story()
    for unit in ("xiaofang-yunxi", "cg-yunxi", "zhujian-yunxi"):
        story.dispatch(unit, role=Role.CO, level=Level.STREET, priority=Priority.EMERGENCY)
    story.tick(0.6)  # all three missed their 30 minutes: the centre is summoned once
    assert escalations(story) == [("report_for_duty", "street", "street")]
    story.dispatch(
        "qingshi-command",
        0.6,
        role=Role.SUPERVISOR,
        level=Level.STREET,
        priority=Priority.EMERGENCY,
    )
    story.tick(1.2)  # the centre itself did not report in either: now the district
    assert escalations(story)[1:] == [("report_for_duty", "street", "district")]
