"""Queries between services (request/reply), for data that must not travel in events."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chuishao.common.domain import CategoryCode, ClockKind, Level, Priority, TicketId, UnitId


class TicketQuery(BaseModel):
    """A question about one ticket: its id and nothing else (an unknown field is refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: TicketId


class ReporterContactQuery(TicketQuery):
    """notify asks intake how to reach a ticket's reporter (subject: REPORTER_CONTACT)."""


class ReporterContact(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: TicketId
    phone: str | None
    name: str | None
    opted_out: bool = False
    # The reporters of duplicate reports linked to this ticket: they get its news too.
    linked: tuple["ReporterContact", ...] = ()


# --- router: the manual dispatch queue (cmd.unit.<centre>.manual.list; intake's
# GET /api/v1/manual-queue relays the same tickets)


class SuggestedCategory(BaseModel):
    """One of triage's best categories for a ticket waiting for a dispatcher."""

    model_config = ConfigDict(frozen=True)

    category: CategoryCode
    confidence: float = Field(ge=0, le=1)
    # The units the category's rule would summon at the ticket's place, lead first (empty
    # when no rule places it there): what the dispatcher may pick with one click.
    units: tuple[UnitId, ...] = ()


# A ticket waiting for its command centre to dispatch it by hand. (No docstring: it
# would become the description in intake's published OpenAPI document.)
class QueuedTicket(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: TicketId
    queued_at: datetime
    reason: str
    category: CategoryCode | None
    suggested_category: CategoryCode | None
    confidence: float | None
    # Triage's best three categories, best first, for the dispatcher to pick from.
    suggestions: tuple[SuggestedCategory, ...] = ()
    priority: Priority
    place: tuple[str, ...] = Field(description="Place codes, most specific first")
    declined_by: tuple[UnitId, ...]
    description: str
    # The units the rule of the ticket's category (or triage's best) would summon at its
    # place, lead first; empty when no rule places it.
    suggested_units: tuple[UnitId, ...] = ()


# --- sla: deadlines of a ticket, overdue lists (subjects SLA_TICKET_DEADLINES, SLA_OVERDUE)


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # the ticket waits on the resident
    STOPPED = "stopped"  # its stop condition happened (see stop_reason)
    BREACHED = "breached"  # ran out and was escalated or reported; open until it stops


class ClockDeadline(BaseModel):
    """One clock of a ticket. Times count in the policy's calendar: business seconds when
    the policy uses working hours, plain seconds on the 24×7 default."""

    model_config = ConfigDict(frozen=True)

    clock: ClockKind
    level: Level
    unit_id: UnitId | None
    cycle: int = Field(description="0, then the reopen count: a reopen restarts resolution")
    state: ClockState
    started_at: AwareDatetime
    limit_seconds: int
    extension_seconds: int
    elapsed_seconds: int
    paused_seconds: int = Field(description="Wall-clock time spent waiting on the resident")
    remaining_seconds: int = Field(description="Negative once overdue")
    deadline: AwareDatetime | None = Field(description="None while paused")
    warning_at: AwareDatetime | None
    warned_at: AwareDatetime | None
    breached_at: AwareDatetime | None
    stopped_at: AwareDatetime | None
    stop_reason: str | None
    calendar: str


class TicketDeadlinesQuery(TicketQuery):
    """Every clock of a ticket, asked of sla (subject: SLA_TICKET_DEADLINES)."""


class TicketDeadlines(BaseModel):
    """Every clock of one ticket, not only the next one."""

    model_config = ConfigDict(frozen=True)

    ticket_id: TicketId
    known: bool = Field(description="False: sla has seen no event of this ticket")
    as_of: AwareDatetime
    level: Level | None = None
    street: str | None = None
    paused: bool = False
    clocks: list[ClockDeadline] = []


class OverdueQuery(BaseModel):
    """Overdue tickets of one unit, of one street, or (neither given) of everyone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit_id: UnitId | None = None
    street: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class OverdueTicket(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: TicketId
    level: Level | None
    street: str | None
    units: tuple[UnitId, ...] = Field(description="Units answerable for the overdue clocks")
    overdue_since: AwareDatetime
    overdue_seconds: int
    clocks: list[ClockDeadline]


class OverdueTickets(BaseModel):
    model_config = ConfigDict(frozen=True)

    as_of: AwareDatetime
    unit_id: UnitId | None
    street: str | None
    tickets: list[OverdueTicket]
    truncated: bool = False


# --- router: the category suggestion while a form is being typed (subject ROUTER_TRIAGE)

# A description longer than this is refused, not cut: the form's own limit is 4000, and a
# suggestion needs no more than the first lines (the model reads n-grams of it all).
TRIAGE_MAX_CHARS = 2000


class TriageQuery(BaseModel):
    """The words typed so far on a filing form (the resident's /r, the operator's seat)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1, max_length=TRIAGE_MAX_CHARS)
    limit: int = Field(default=3, ge=1, le=5)


class TriageSuggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: CategoryCode
    confidence: float = Field(ge=0, le=1)


class TriageAnswer(BaseModel):
    """The likely categories, best first, and whether the words tell of a danger now."""

    model_config = ConfigDict(frozen=True)

    ok: bool = True
    suggestions: tuple[TriageSuggestion, ...] = ()
    method: str
    danger: bool = False
    life_at_risk: bool = False
    # The emergency numbers to ring at once (119, 110, 120), the detector's whole message
    # (the numbers, then what to do), and what to do alone (None: nothing to add).
    call: tuple[str, ...] = ()
    message_zh: str | None = None
    advice_zh: str | None = None


# --- router: where the directory places an address being typed (subject ROUTER_PLACE)


class PlaceQuery(BaseModel):
    """The address typed so far on a filing form (the resident's /r, the operator's seat)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str = Field(min_length=1, max_length=500)


class PlaceAnswer(BaseModel):
    """The place the directory's names and aliases find in the address (found false: none;
    the ticket is then placed by its pin, or by the command centre)."""

    model_config = ConfigDict(frozen=True)

    ok: bool = True
    found: bool
    # As deep as the address told: a district alone, or down to a grid.
    district: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    found_by: Literal["address"] | None = None


# --- notify: a one-time code by SMS (subject NOTIFY_VERIFICATION_CODE); the console makes
# the code and keeps only its hash, notify only sends it (and logs neither it nor the number)

MobilePhone = Annotated[str, Field(pattern=r"^1[3-9]\d{9}$", examples=["13800138000"])]


class VerificationCodeRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The gateway's de-duplication id (SMS out_id): a resent request is one message.
    request_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    phone: MobilePhone
    code: str = Field(pattern=r"^\d{6}$")
    purpose: Literal["points"] = "points"
    valid_minutes: int = Field(default=5, ge=1, le=30)


class VerificationCodeSent(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool = True
    channel: str  # sms, or outbox (the recorder in place of a phone)


# --- notify: a hotspot warning by SMS to a command-centre person (NOTIFY_HOTSPOT_SMS); the
# console sends the warning's codes and counts, notify names them and renders a fixed
# template. Codes only (no names, no free text), so no caller can put words in an SMS.
# ASCII digits only: `\d` would also take other scripts' digits.
DutyMobile = Annotated[str, Field(pattern=r"^1[3-9][0-9]{9}$", examples=["13800138000"])]
PlaceCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


class HotspotSmsRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The gateway's de-duplication id (SMS out_id): the warning's event × the account.
    request_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    phone: DutyMobile
    grid_code: PlaceCode
    street: PlaceCode | None = None
    category: CategoryCode
    count: int = Field(ge=1, le=1_000_000)
    threshold: int = Field(ge=1, le=1_000_000)
    window_seconds: int = Field(gt=0, le=366 * 86_400)


class HotspotSmsSent(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool = True
    channel: str  # sms, or outbox
