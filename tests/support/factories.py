"""Events built the way the services build them, for tests."""

from datetime import UTC, datetime

from chuishao.common.clock import Clock, ManualClock
from chuishao.common.domain import Channel, Level, Location, Priority, Role, Whistle
from chuishao.common.events import TicketDispatched, TicketSubmitted


def submitted(
    clock: ManualClock | None = None, ticket_id: str = "T20260105000001"
) -> TicketSubmitted:
    return TicketSubmitted.first(
        producer="intake",
        clock=clock or ManualClock(),
        ticket_id=ticket_id,
        category="fire_box",
        description="消防箱玻璃碎了",
        priority=Priority.NORMAL,
        channel=Channel.SNAP_IT,
        location=Location(grid_code="HY-01"),
    )


def dispatched(cause: TicketSubmitted, unit_id: str = "grid-heyuan") -> TicketDispatched:
    return TicketDispatched.caused_by(
        cause,
        producer="router",
        occurred_at=datetime(2026, 1, 5, 9, 1, tzinfo=UTC),
        discriminator=unit_id,
        unit_id=unit_id,
        unit_name="和园社区网格站",
        role=Role.LEAD,
        level=Level.COMMUNITY,
        whistle=Whistle.DAILY,
        category=cause.category,
        priority=cause.priority,
        description=cause.description,
        location=cause.location,
        reason="test",
    )


def first_dispatch(clock: Clock, ticket_id: str) -> TicketDispatched:
    """A dispatch with no cause in the stream: what sla sees first of a ticket."""
    return TicketDispatched.first(
        producer="router",
        clock=clock,
        ticket_id=ticket_id,
        unit_id="grid-heyuan",
        unit_name="和园社区网格站",
        role=Role.LEAD,
        level=Level.COMMUNITY,
        whistle=Whistle.DAILY,
        category="fire_box",
        priority=Priority.NORMAL,
        description="消防箱玻璃碎了",
        location=Location(grid_code="HY-01"),
        reason="test",
    )
