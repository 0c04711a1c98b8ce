"""The ticket record intake keeps in Redis: current state plus append-only history."""

from datetime import datetime
from pathlib import Path
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

from chuishao.common.commands import Reporter
from chuishao.common.domain import (
    AppealOutcome,
    AppealSubject,
    Channel,
    ClockKind,
    DirectAnswer,
    Level,
    Location,
    Priority,
    Rating,
    Role,
    Whistle,
)
from chuishao.common.packing import PackedValue, Packing, registered
from chuishao.common.status import Status

# Frozen: records are packed with it (a new dictionary is a new version beside it,
# scripts/packing_dictionaries.py).
PACKING = registered(
    Packing(
        "intake record",
        Path(__file__).parent / "data" / "packing",
        {1: "29ae1c561f77f0532c0b5208f1ccba589e6cdfad4dedbd88724bade11e3b9fbc"},
    )
)


class Assignment(BaseModel):
    """One summoned unit's part in the ticket."""

    unit_id: str
    unit_name: str
    role: Role
    level: Level
    whistle: Whistle
    dispatched_at: AwareDatetime
    notified_at: AwareDatetime | None = None
    acknowledged_at: AwareDatetime | None = None
    signed_off_at: AwareDatetime | None = None
    # False once the unit declined or transferred its part: it no longer has to act.
    active: bool = True
    extension_requested_seconds: int | None = None
    # What a unit may appeal (FileAppeal): it returned the ticket, a deadline of its own
    # (or of the ticket while it was on it) ran out, an unsatisfied rating named it.
    declined: bool = False
    breached: bool = False
    rated_unsatisfied: bool = False

    @property
    def owes_acknowledgement(self) -> bool:
        return self.active and self.acknowledged_at is None

    @property
    def owes_sign_off(self) -> bool:
        return self.active and self.signed_off_at is None


class ClockView(BaseModel):
    clock: ClockKind
    level: Level
    unit_id: str | None
    deadline: AwareDatetime


class HistoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    type: str
    at: AwareDatetime
    producer: str
    summary: str
    # A note its unit marked public (AddProgressNote.public): the only free text of the
    # history Open311 shows. Everything else here is internal.
    public_note: str | None = None
    # The console account that acted (Event.person): staff, shown to staff only.
    person: str | None = None


class SignOff(BaseModel):
    """One unit's 办结: its own note and evidence. A coordination whistle has one per
    summoned unit; the resident and Open311 see them all, not only the last."""

    unit_id: str
    unit_name: str
    note: str
    evidence_urls: tuple[str, ...] = ()
    signed_off_at: AwareDatetime
    event_id: str = ""  # the UnitSignedOff, so its history entry can show this note


class Resolution(BaseModel):
    note: str
    evidence_urls: tuple[str, ...] = ()
    resolved_at: AwareDatetime
    # Every unit's sign-off of this cycle, in the order they came (note and evidence above
    # are the combined text and all the photos).
    sign_offs: list[SignOff] = []


class LinkedReport(BaseModel):
    ticket_id: str
    description: str = ""
    media_urls: tuple[str, ...] = ()


class Appeal(BaseModel):
    """A unit's appeal (申诉) and, once decided, the decision. Staff only: a unit's view
    shows its own appeals (views.view_of), never another unit's."""

    appeal_id: str
    unit_id: str
    subject: AppealSubject
    reason: str
    evidence_urls: tuple[str, ...] = ()
    filed_at: AwareDatetime
    filed_by: str | None = None  # the console account
    outcome: AppealOutcome | None = None  # None: pending
    decided_at: AwareDatetime | None = None
    decided_by: str | None = None  # the deciding supervisor (unit id)
    decided_by_person: str | None = None
    note: str = ""

    @property
    def pending(self) -> bool:
        return self.outcome is None


class TicketRecord(BaseModel, PackedValue):
    """The ticket as intake keeps it (Redis `ticket:<id>`, packed)."""

    packing: ClassVar[Packing] = PACKING

    ticket_id: str
    correlation_id: str
    status: Status
    category: str | None
    description: str
    priority: Priority
    channel: Channel
    location: Location
    media_urls: tuple[str, ...]
    reporter: Reporter | None
    reporter_ref: str | None
    submitted_at: AwareDatetime
    updated_at: AwareDatetime
    street: str | None = None
    # The command centre the router's TicketNeedsManualDispatch left it to: while no street
    # places the ticket, the only supervisor below the city level that may know of it.
    arbiter: str | None = None
    assignments: list[Assignment] = []
    clocks: list[ClockView] = []
    # Deadlines this cycle already missed (SlaBreached) that nothing has answered since:
    # an escalation arms a fresh clock at the next level, and without these the ticket
    # would stop counting as overdue the moment sla escalated it.
    breached: list[ClockView] = []
    history: list[HistoryEntry] = []
    declines: int = 0
    reopen_count: int = 0
    # 直接答复: answered on the call from the knowledge base, closed without a dispatch.
    answered: DirectAnswer | None = None
    # Callbacks (回访) of this cycle that reached no rating (CallbackAttempted).
    callback_attempts: int = 0
    rating: Rating | None = None
    resolution: Resolution | None = None
    # The sign-offs of the current cycle, kept until the last one resolves the ticket.
    sign_offs: list[SignOff] = []
    # Duplicate clustering: a linked report follows `linked_to`; the ticket it follows
    # counts everyone who reported it (interest) and lists their reports.
    linked_to: str | None = None
    linked_reports: list[str] = []
    # The linked reports' own words and photos, for the units of this ticket.
    linked_details: list[LinkedReport] = []
    suggested_category: str | None = None
    # The router's danger detector found a life at risk now: the numbers the operator
    # (and the resident, by notify) must ring at once, and what to tell the caller.
    call_now: tuple[str, ...] = ()
    call_message_zh: str | None = None
    # Units' appeals (申诉), oldest first.
    appeals: list[Appeal] = []
    version: int = 1

    @property
    def interest_count(self) -> int:
        return 1 + len(self.linked_reports)

    @property
    def deadline(self) -> datetime | None:
        pending = [clock.deadline for clock in self.clocks]
        return min(pending) if pending else None

    @property
    def overdue_since(self) -> datetime | None:
        """The earliest deadline missed or about to be: a breach not answered since, or
        the next deadline of a running clock (the overdue filter compares it with now)."""
        moments = [clock.deadline for clock in (*self.breached, *self.clocks)]
        return min(moments) if moments else None

    @property
    def active_assignments(self) -> list[Assignment]:
        return [a for a in self.assignments if a.active]

    @property
    def lead_unit(self) -> str | None:
        return next((a.unit_id for a in self.active_assignments if a.role == Role.LEAD), None)

    def assignment(self, unit_id: str) -> Assignment | None:
        return next((a for a in self.active_assignments if a.unit_id == unit_id), None)

    def ever_assigned(self, unit_id: str) -> bool:
        return any(a.unit_id == unit_id for a in self.assignments)

    def ever_assignment(self, unit_id: str) -> Assignment | None:
        """The unit's part, active or not (a unit that returned the ticket keeps one)."""
        return next((a for a in self.assignments if a.unit_id == unit_id), None)

    def appeal(self, appeal_id: str) -> Appeal | None:
        return next((a for a in self.appeals if a.appeal_id == appeal_id), None)

    @property
    def pending_appeals(self) -> bool:
        return any(a.pending for a in self.appeals)

    def has_applied(self, event_id: str) -> bool:
        return any(entry.event_id == event_id for entry in self.history)
