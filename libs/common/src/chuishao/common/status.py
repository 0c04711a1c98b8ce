"""A ticket's status and who is summoned to it, as events change them: the one reducer.

Intake's record (`chuishao.intake.projection`) and supervision's facts
(`chuishao.supervision.ticket`) both fold `reduce` over a ticket's events, so they cannot
disagree about where a ticket stands. Each keeps its own details beside it (timestamps,
names, late answers); only the status and the assignment rules live here:

* a dispatch summons a unit afresh (active, not yet reported for duty) unless its part
  is active already (then the part stands: the router's answer to a reopening may land
  after the unit reported again), and nobody once the ticket is resolved or closed;
* a unit reports for duty, declines or transfers its part only while it is summoned;
* a reopen asks every unit still summoned to report for duty again;
* the status follows from who is summoned and who has reported (dispatched, in progress,
  or back to submitted when every unit returned it), except while the ticket waits for
  the resident, is resolved, closed or linked;
* a closed ticket stays closed.

Pure: no I/O, state in and state out.
"""

from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

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
    TicketSubmitted,
    TicketTransferred,
)


class Status(StrEnum):
    SUBMITTED = "submitted"  # 已受理, waiting for the router
    MANUAL_DISPATCH = "manual_dispatch"  # 待人工派单
    DISPATCHED = "dispatched"  # 已派单, waiting for units to report for duty
    IN_PROGRESS = "in_progress"  # 处置中
    AWAITING_RESIDENT = "awaiting_resident"  # 待居民配合, clocks paused
    RESOLVED = "resolved"  # 已办结, waiting for the rating
    CLOSED = "closed"  # 已结案
    LINKED = "linked"  # 已合并: a duplicate report following another ticket


OPEN = frozenset(Status) - {Status.CLOSED, Status.LINKED}
WORKING = frozenset({Status.DISPATCHED, Status.IN_PROGRESS, Status.AWAITING_RESIDENT})
# The states in which the status follows from the assignments.
_FOLLOWS_ASSIGNMENTS = frozenset({Status.SUBMITTED, Status.DISPATCHED, Status.IN_PROGRESS})


class Part(BaseModel):
    """One summoned unit, as far as the status is concerned."""

    model_config = ConfigDict(frozen=True)

    active: bool = True  # False once it declined or transferred its part
    acknowledged: bool = False  # reported for duty in the current cycle


class Progress(BaseModel):
    """What `reduce` folds: the ticket's status and its units' parts."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    status: Status = Status.SUBMITTED
    parts: dict[str, Part] = {}

    def is_active(self, unit_id: str) -> bool:
        part = self.parts.get(unit_id)
        return part is not None and part.active


def started(ticket_id: str, *, linked: bool = False) -> Progress:
    """A new ticket: submitted, or linked when it repeats an open one."""
    return Progress(ticket_id=ticket_id, status=Status.LINKED if linked else Status.SUBMITTED)


def _following_assignments(status: Status, parts: Mapping[str, Part]) -> Status:
    if status not in _FOLLOWS_ASSIGNMENTS:
        return status
    active = [part for part in parts.values() if part.active]
    if not active:
        return Status.SUBMITTED  # every unit returned it: the router places it again
    if all(part.acknowledged for part in active):
        return Status.IN_PROGRESS
    return Status.DISPATCHED


def _reduce(progress: Progress, event: Event) -> tuple[Status, dict[str, Part]]:
    status, parts = progress.status, dict(progress.parts)

    def change(unit_id: str, **update: bool) -> None:
        if progress.is_active(unit_id):
            parts[unit_id] = parts[unit_id].model_copy(update=update)

    match event:
        case TicketSubmitted() if event.answered is not None:
            return Status.CLOSED, parts  # 直接答复: answered on the call, never dispatched
        case TicketDispatched() if status in (Status.RESOLVED, Status.CLOSED):
            # Decided before the resolution, landed after it (an escalation racing the
            # last sign-off): the work is done, so nobody is summoned.
            return status, parts
        case TicketDispatched():
            # A unit summoned while its part is active keeps it: the router's answer to a
            # reopening may land after the unit has reported for duty again, and that
            # report stands. A unit that returned its part gets a fresh one and reports anew.
            if not progress.is_active(event.unit_id):
                parts[event.unit_id] = Part()
            if status == Status.MANUAL_DISPATCH:
                status = Status.DISPATCHED
            return _following_assignments(status, parts), parts
        case TicketNeedsManualDispatch():
            return (Status.MANUAL_DISPATCH if status == Status.SUBMITTED else status), parts
        case TicketAcknowledged():
            change(event.unit_id, acknowledged=True)
            return _following_assignments(status, parts), parts
        case TicketDeclined():
            change(event.unit_id, active=False)
            return _following_assignments(status, parts), parts
        case TicketTransferred():
            change(event.from_unit_id, active=False)
            return _following_assignments(status, parts), parts
        case TicketAwaitingResident():
            return Status.AWAITING_RESIDENT, parts
        case TicketResidentReplied():
            return Status.IN_PROGRESS, parts
        case TicketResolved():
            return Status.RESOLVED, parts
        case TicketReopened():
            for unit_id in parts:
                change(unit_id, acknowledged=False)
            return Status.DISPATCHED, parts
        case TicketClosed():
            return Status.CLOSED, parts
        case ReportSplit() if event.report_ticket_id == progress.ticket_id:
            return Status.SUBMITTED, parts  # the report itself, routed on its own now
    return status, parts


def reduce(progress: Progress, event: Event) -> Progress:
    """The status and parts after `event`."""
    status, parts = _reduce(progress, event)
    if progress.status == Status.CLOSED:
        status = Status.CLOSED  # a closed ticket stays closed
    if status == progress.status and parts == progress.parts:
        return progress
    return progress.model_copy(update={"status": status, "parts": parts})
