"""Events built the way the services build them, for tests."""

from datetime import UTC, datetime
from typing import Any

from chuishao.common.clock import Clock, ManualClock
from chuishao.common.domain import Channel, Level, Location, Priority, Role, Whistle
from chuishao.common.events import HotspotDetected, TicketDispatched, TicketSubmitted
from chuishao.intake.lifecycle import Status
from chuishao.intake.projection import history_entry
from chuishao.intake.records import TicketRecord

# What a report of a broken fire box says: the fields of a TicketSubmitted a test does not
# care about (a test names the ones it does as overrides).
REPORT_FIELDS: dict[str, Any] = {
    "category": "fire_box",
    "description": "消防箱玻璃碎了",
    "priority": Priority.NORMAL,
    "channel": Channel.SNAP_IT,
    "location": Location(grid_code="HY-01"),
}
# Who a dispatch summons and why, the fields of a TicketDispatched beside the report's own.
DISPATCH_FIELDS: dict[str, Any] = {
    "unit_name": "和园社区网格站",
    "role": Role.LEAD,
    "level": Level.COMMUNITY,
    "whistle": Whistle.DAILY,
    "reason": "test",
}


def dispatch_fields(report: dict[str, Any]) -> dict[str, Any]:
    """The fields of a TicketDispatched of `report` (a dispatch carries no channel)."""
    return DISPATCH_FIELDS | {k: v for k, v in report.items() if k != "channel"}


# The fields a TicketRecord copies from its TicketSubmitted.
_RECORD_COPIES = (
    "ticket_id",
    "correlation_id",
    "category",
    "description",
    "priority",
    "channel",
    "location",
)


def submitted(
    clock: ManualClock | None = None, ticket_id: str = "T20260105000001", **fields: Any
) -> TicketSubmitted:
    """A report of a broken fire box; `fields` override REPORT_FIELDS or add to them."""
    return TicketSubmitted.first(
        producer="intake",
        clock=clock or ManualClock(),
        ticket_id=ticket_id,
        **(REPORT_FIELDS | fields),
    )


def dispatched(cause: TicketSubmitted, unit_id: str = "grid-heyuan") -> TicketDispatched:
    return TicketDispatched.caused_by(
        cause,
        producer="router",
        occurred_at=datetime(2026, 1, 5, 9, 1, tzinfo=UTC),
        discriminator=unit_id,
        unit_id=unit_id,
        **DISPATCH_FIELDS,
        category=cause.category,
        priority=cause.priority,
        description=cause.description,
        location=cause.location,
    )


def first_dispatch(clock: Clock, ticket_id: str) -> TicketDispatched:
    """A dispatch with no cause in the stream: what sla sees first of a ticket."""
    return TicketDispatched.first(
        producer="router",
        clock=clock,
        ticket_id=ticket_id,
        unit_id="grid-heyuan",
        **dispatch_fields(REPORT_FIELDS),
    )


def submitted_record(event: TicketSubmitted, at: datetime) -> TicketRecord:
    """A SUBMITTED record of `event` at `at`, built by hand (not by intake's own factory),
    with no reporter and no media."""
    return TicketRecord(
        **{name: getattr(event, name) for name in _RECORD_COPIES},
        status=Status.SUBMITTED,
        media_urls=(),
        reporter=None,
        reporter_ref=None,
        submitted_at=at,
        updated_at=at,
        history=[history_entry(event)],
    )


def hotspot(
    ticket_id: str,
    correlation_id: str,
    at: datetime,
    place: tuple[str, str, str],
    count: int,
) -> HotspotDetected:
    """Supervision's warning of `count` reports at `place` (grid, street, category) in a
    day, over the threshold of five."""
    grid_code, street, category = place
    return HotspotDetected.about(
        ticket_id=ticket_id,
        correlation_id=correlation_id,
        producer="supervision",
        occurred_at=at,
        grid_code=grid_code,
        street=street,
        category=category,
        count=count,
        window_seconds=86_400,
        threshold=5,
    )
