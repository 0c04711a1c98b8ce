"""Events: facts that happened, past tense, each with the envelope and a schema version.

Every event is frozen. Consumers ignore fields they do not know, so adding an optional
field is compatible; anything else bumps `schema_version` and the published schema.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, TypeVar, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from chuishao.common.domain import (
    AppealOutcome,
    AppealSubject,
    CategoryCode,
    Channel,
    ClockKind,
    DeclineReason,
    DirectAnswer,
    Level,
    Location,
    Priority,
    Rating,
    Role,
    TicketId,
    UnitId,
    Whistle,
)
from chuishao.common.ids import derived_id, new_event_id

if TYPE_CHECKING:
    # Only a type here: the events stay free of the clock's Redis-backed implementations.
    from chuishao.common.clock import Clock

E = TypeVar("E", bound="Event")


class Event(BaseModel):
    """The envelope every event carries."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(description="Unique id; also the JetStream Nats-Msg-Id")
    type: str
    schema_version: int
    occurred_at: AwareDatetime
    ticket_id: TicketId
    correlation_id: str = Field(description="Id of the report that started the chain")
    causation_id: str | None = Field(description="Id of the event that caused this one")
    producer: str = Field(description="Service that emitted the event")
    person: str | None = Field(
        default=None,
        description="The console account (username) of the staff member who acted, when a"
        " person acted through the console (docs/console.md); never a resident",
    )

    kind: ClassVar[str]
    """Subject token for this event type (see chuishao.common.subjects), named where the
    class is: `class TicketClosed(Event, kind="closed")`."""

    def __init_subclass__(cls, *, kind: str, **options: Any) -> None:
        # Required, so an event type without a subject token fails at import; a class
        # keyword, so the token stands on the line that names the type.
        super().__init_subclass__(**options)
        cls.kind = kind

    @classmethod
    def first(
        cls,
        *,
        producer: str,
        clock: "Clock",
        ticket_id: str,
        event_id: str | None = None,
        **fields: Any,
    ) -> Self:
        """An event that starts a chain (a new report)."""
        event_id = event_id or new_event_id()
        return cls(
            event_id=event_id,
            occurred_at=clock.now(),
            ticket_id=ticket_id,
            correlation_id=event_id,
            causation_id=None,
            producer=producer,
            **fields,
        )

    @classmethod
    def about(
        cls,
        *,
        ticket_id: str,
        correlation_id: str,
        producer: str,
        occurred_at: datetime,
        event_id: str | None = None,
        causation_id: str | None = None,
        **fields: Any,
    ) -> Self:
        """An event caused by a command on an existing ticket (not by another event)."""
        return cls(
            event_id=event_id or new_event_id(),
            occurred_at=occurred_at,
            ticket_id=ticket_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
            producer=producer,
            **fields,
        )

    @classmethod
    def caused_by(
        cls,
        cause: "Event",
        *,
        producer: str,
        occurred_at: datetime,
        discriminator: str = "",
        **fields: Any,
    ) -> Self:
        """An event caused by another; its id is derived, so a retry re-emits the same id."""
        return cls(
            event_id=derived_id(cause.event_id, cls.model_fields["type"].default, discriminator),
            occurred_at=occurred_at,
            ticket_id=cause.ticket_id,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            producer=producer,
            **fields,
        )


class TicketSubmitted(Event, kind="submitted"):
    """A report was accepted and stored; routing starts here."""

    type: Literal["TicketSubmitted"] = "TicketSubmitted"
    schema_version: Literal[1] = 1
    category: CategoryCode | None = Field(description="None: the router's triage decides")
    description: str = Field(max_length=4000)
    priority: Priority
    channel: Channel
    location: Location
    media_urls: tuple[str, ...] = ()
    reporter_ref: str | None = Field(
        default=None, description="Pseudonym of the reporter; never the name or phone"
    )
    attributes: dict[str, str | list[str]] = Field(default_factory=dict)
    # Added in 1.x (optional, so v1 stays): the operator answered the call from the
    # knowledge base; the ticket starts closed and nobody routes it.
    answered: DirectAnswer | None = None


class TicketDispatched(Event, kind="dispatched"):
    """A unit was summoned to a ticket (one event per unit)."""

    type: Literal["TicketDispatched"] = "TicketDispatched"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    unit_name: str
    role: Role
    level: Level
    whistle: Whistle
    category: CategoryCode
    priority: Priority
    description: str = Field(max_length=4000)
    location: Location
    media_urls: tuple[str, ...] = ()
    reason: str = Field(description="Why this unit: the rule or plugin that chose it")
    street: str | None = Field(default=None, description="Street (街道) code of the place")
    grid_code: str | None = Field(default=None, description="Grid (网格) code of the place")


class TicketNeedsManualDispatch(Event, kind="manual_dispatch"):
    """No rule could place the ticket; the street command centre must dispatch it."""

    type: Literal["TicketNeedsManualDispatch"] = "TicketNeedsManualDispatch"
    schema_version: Literal[1] = 1
    category: CategoryCode | None
    reason: str
    # Added in 1.x (optional, so older events still validate): who must dispatch it and
    # at which level, so sla can run the dispatch clock and the queue can escalate.
    arbiter_id: UnitId | None = Field(default=None, description="The command centre it waits for")
    level: Level | None = Field(default=None, description="The arbiter's level")
    priority: Priority = Field(
        default=Priority.NORMAL,
        description="emergency when it is marked or triaged dangerous (shorter dispatch clock)",
    )
    street: str | None = Field(default=None, description="Street (街道) code of the place")


class SlaClockArmed(Event, kind="clock_armed"):
    """A clock started (or restarted) on a ticket."""

    type: Literal["SlaClockArmed"] = "SlaClockArmed"
    schema_version: Literal[1] = 1
    clock: ClockKind
    level: Level
    unit_id: UnitId | None = None
    limit_seconds: int = Field(gt=0)
    deadline: AwareDatetime


class UnitNotified(Event, kind="unit_notified"):
    """A dispatch reached the unit's own channel."""

    type: Literal["UnitNotified"] = "UnitNotified"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    channel: Literal["nats", "webhook"]
    address: str = Field(description="The subject or URL it was delivered to")


# --- the lifecycle, emitted by intake on the commands of units, supervisors and residents


class TicketAcknowledged(Event, kind="acknowledged"):
    """A summoned unit reported for duty (报到/签收)."""

    type: Literal["TicketAcknowledged"] = "TicketAcknowledged"
    schema_version: Literal[1] = 1
    unit_id: UnitId


class TicketDeclined(Event, kind="declined"):
    """A unit returned a ticket that is not its own (退单); the router re-dispatches."""

    type: Literal["TicketDeclined"] = "TicketDeclined"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    reason_code: DeclineReason
    note: str = Field(default="", max_length=2000)
    bounces: int = Field(ge=1, description="How many times this ticket has been declined")


class TicketProgressNoted(Event, kind="progress_noted"):
    """A unit recorded progress."""

    type: Literal["TicketProgressNoted"] = "TicketProgressNoted"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    note: str = Field(max_length=2000)
    # Added in 1.x (optional: older notes stay internal): the unit wrote it for the public.
    public: bool = Field(default=False, description="A public note (shown on Open311)")


class ExtensionRequested(Event, kind="extension_requested"):
    """A unit asked for more time (延期); it needs approval."""

    type: Literal["ExtensionRequested"] = "ExtensionRequested"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    extra_seconds: int = Field(gt=0)
    reason: str = Field(max_length=2000)


class ExtensionApproved(Event, kind="extension_approved"):
    """An extension was approved: the resolution deadline moves by `extra_seconds`."""

    type: Literal["ExtensionApproved"] = "ExtensionApproved"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    extra_seconds: int = Field(gt=0)
    approved_by: str


class ExtensionDenied(Event, kind="extension_denied"):
    """An extension was refused; the deadline stands."""

    type: Literal["ExtensionDenied"] = "ExtensionDenied"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    denied_by: str
    reason: str = Field(default="", max_length=2000)


class TicketUrged(Event, kind="urged"):
    """A command centre urged a unit by hand (督办). Added in 1.x: a new event, so older
    consumers never see an unknown field; notify delivers it to the unit's subject."""

    type: Literal["TicketUrged"] = "TicketUrged"
    schema_version: Literal[1] = 1
    unit_id: UnitId = Field(description="The unit urged")
    urged_by: str = Field(description="The command centre (unit id) that urged it")
    note: str = Field(default="", max_length=500)


class TicketTransferred(Event, kind="transferred"):
    """A unit handed its part of the ticket to another unit (转办)."""

    type: Literal["TicketTransferred"] = "TicketTransferred"
    schema_version: Literal[1] = 1
    from_unit_id: UnitId
    to_unit_id: UnitId
    reason: str = Field(max_length=2000)


class TicketAwaitingResident(Event, kind="awaiting_resident"):
    """The ticket waits on the resident (clocks pause)."""

    type: Literal["TicketAwaitingResident"] = "TicketAwaitingResident"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    note: str = Field(max_length=2000)


class TicketResidentReplied(Event, kind="resident_replied"):
    """The resident answered; clocks run again."""

    type: Literal["TicketResidentReplied"] = "TicketResidentReplied"
    schema_version: Literal[1] = 1
    note: str = Field(default="", max_length=2000)


class TicketRecategorised(Event, kind="recategorised"):
    """Category or priority changed; clocks recompute, keeping elapsed and paused time."""

    type: Literal["TicketRecategorised"] = "TicketRecategorised"
    schema_version: Literal[1] = 1
    category: CategoryCode
    priority: Priority
    changed_by: str


class UnitSignedOff(Event, kind="signed_off"):
    """A summoned unit finished its part, with evidence (办结); on a coordination whistle
    the ticket resolves only when every summoned unit has signed off (事不完、人不撤)."""

    type: Literal["UnitSignedOff"] = "UnitSignedOff"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    note: str = Field(max_length=2000)
    evidence_urls: tuple[str, ...] = ()


class TicketResolved(Event, kind="resolved"):
    """Every summoned unit has signed off; the resident is told and asked to rate."""

    type: Literal["TicketResolved"] = "TicketResolved"
    schema_version: Literal[1] = 1
    units: tuple[UnitId, ...]
    note: str = Field(max_length=4000)
    evidence_urls: tuple[str, ...] = ()
    reporter_ref: str | None = None


class TicketRated(Event, kind="rated"):
    """The resident rated the handling (满意 / 基本满意 / 不满意)."""

    type: Literal["TicketRated"] = "TicketRated"
    schema_version: Literal[1] = 1
    rating: Rating
    comment: str = Field(default="", max_length=2000)
    units: tuple[UnitId, ...]


class CallbackAttempted(Event, kind="callback_attempted"):
    """An operator's callback (回访) reached no rating. Added in 1.x: a new event."""

    type: Literal["CallbackAttempted"] = "CallbackAttempted"
    schema_version: Literal[1] = 1
    outcome: Literal["no_answer", "unreachable"]
    attempt: int = Field(ge=1, description="The how-manieth callback of this cycle")
    note: str = Field(default="", max_length=500)


class TicketReopened(Event, kind="reopened"):
    """An unsatisfied rating reopened the ticket; it goes back to the same units."""

    type: Literal["TicketReopened"] = "TicketReopened"
    schema_version: Literal[1] = 1
    complaint: str = Field(default="", max_length=2000)
    units: tuple[UnitId, ...]
    reopen_count: int = Field(ge=1)


class TicketClosed(Event, kind="closed"):
    """The ticket is finished: rated, or its feedback window passed."""

    type: Literal["TicketClosed"] = "TicketClosed"
    schema_version: Literal[1] = 1
    reason: Literal["rated", "feedback_window_elapsed", "duplicate", "withdrawn"]


class AppealFiled(Event, kind="appeal_filed"):
    """A unit contests (申诉) something counted against it on this ticket, with a reason
    and optional evidence photos; a district (or city) account decides. Added in 1.x: a
    new event. Carries no resident's data."""

    type: Literal["AppealFiled"] = "AppealFiled"
    schema_version: Literal[1] = 1
    appeal_id: str = Field(description="<unit_id>:<subject>:<n>, unique within the ticket")
    unit_id: UnitId = Field(description="The unit that appeals")
    subject: AppealSubject
    reason: str = Field(max_length=2000)
    evidence_urls: tuple[str, ...] = ()


class AppealDecided(Event, kind="appeal_decided"):
    """A district (or city) account upheld or rejected an appeal; an upheld one is an
    exemption (免责) in supervision's rates. Added in 1.x: a new event."""

    type: Literal["AppealDecided"] = "AppealDecided"
    schema_version: Literal[1] = 1
    appeal_id: str
    unit_id: UnitId = Field(description="The unit that appealed")
    subject: AppealSubject
    outcome: AppealOutcome
    decided_by: str = Field(description="The deciding supervisor (unit id)")
    note: str = Field(default="", max_length=2000)


# --- routing


class WhistleBlown(Event, kind="whistle_blown"):
    """Several units summoned together: a coordination or emergency whistle."""

    type: Literal["WhistleBlown"] = "WhistleBlown"
    schema_version: Literal[1] = 1
    whistle: Whistle
    level: Level
    units: tuple[UnitId, ...]
    report_within_seconds: int = Field(gt=0)
    reason: str


class TicketTriaged(Event, kind="triaged"):
    """Free-text triage suggested a category for a report filed without one; below the
    threshold the ticket goes to manual dispatch instead (`accepted` false)."""

    type: Literal["TicketTriaged"] = "TicketTriaged"
    schema_version: Literal[1] = 1
    category: CategoryCode | None = Field(description="The suggestion; None if nothing matched")
    confidence: float = Field(ge=0, le=1)
    method: str = Field(description="Classifier and version, e.g. keywords-v1")
    accepted: bool = Field(description="True: the ticket was routed by this category")
    # Added in 1.x (optional, so older events still validate): the danger detector's
    # answer, separate from the category.
    danger: bool = Field(
        default=False,
        description="A danger is happening now (gas, fire, live wires, collapse, people "
        "trapped, flooding …): the ticket is an emergency whatever its category",
    )
    danger_kinds: tuple[str, ...] = Field(default=(), examples=[["gas"]])
    call: tuple[str, ...] = Field(
        default=(),
        description="When a life is at risk now: the numbers to ring at once (119, 110, 120); "
        "notify tells the resident, the ticket view tells the operator",
        examples=[["119"]],
    )
    call_message_zh: str | None = Field(default=None, examples=["如有人员生命危险，请立即拨打119"])


# --- supervision, emitted by sla


class SlaWarning(Event, kind="sla_warning"):
    """A clock passed its warning point (催办)."""

    type: Literal["SlaWarning"] = "SlaWarning"
    schema_version: Literal[1] = 1
    clock: ClockKind
    level: Level
    unit_id: UnitId | None = None
    deadline: AwareDatetime
    remaining_seconds: int


class SlaBreached(Event, kind="sla_breached"):
    """A clock ran out."""

    type: Literal["SlaBreached"] = "SlaBreached"
    schema_version: Literal[1] = 1
    clock: ClockKind
    level: Level
    unit_id: UnitId | None = None
    deadline: AwareDatetime
    overdue_seconds: int = Field(ge=0, description="How late the breach was detected")


class TicketEscalated(Event, kind="escalated"):
    """A breach moved the ticket one level up the ladder; the router summons that level."""

    type: Literal["TicketEscalated"] = "TicketEscalated"
    schema_version: Literal[1] = 1
    clock: ClockKind
    from_level: Level
    to_level: Level
    overdue_seconds: int = Field(ge=0)
    units_summoned: tuple[UnitId, ...] = ()


# --- delivery, emitted by notify


class ResidentNotified(Event, kind="resident_notified"):
    """A message reached the reporter (the address itself is never in the event)."""

    type: Literal["ResidentNotified"] = "ResidentNotified"
    schema_version: Literal[1] = 1
    reporter_ref: str
    channel: Literal["sms", "wechat", "outbox"]
    template: str


class DeliveryFailed(Event, kind="delivery_failed"):
    """A delivery gave up after its retries; it sits in the dead letters, replayable."""

    type: Literal["DeliveryFailed"] = "DeliveryFailed"
    schema_version: Literal[1] = 1
    recipient: str = Field(description="unit id or reporter reference")
    channel: str
    reason: str
    attempts: int = Field(ge=1)


# --- analysis


class HotspotDetected(Event, kind="hotspot"):
    """Many reports of one kind in one grid in a short window (预警); `ticket_id` is the
    report that crossed the threshold."""

    type: Literal["HotspotDetected"] = "HotspotDetected"
    schema_version: Literal[1] = 1
    grid_code: str
    street: str | None = None
    category: CategoryCode
    count: int = Field(ge=1)
    window_seconds: int = Field(gt=0)
    threshold: int = Field(ge=1)


class ReportLinked(Event, kind="linked"):
    """A new report duplicated an open ticket and was linked to it instead of dispatched."""

    type: Literal["ReportLinked"] = "ReportLinked"
    schema_version: Literal[1] = 1
    duplicate_ticket_id: TicketId
    distance_m: float = Field(ge=0)
    reporter_ref: str | None = None
    # The new report's own words and photos, for the units of the ticket it joins.
    description: str = Field(default="", max_length=4000)
    media_urls: tuple[str, ...] = ()


class ReportSplit(Event, kind="split"):
    """A wrongly linked report was split back out of the ticket; it is routed on its own
    (its TicketSubmitted follows)."""

    type: Literal["ReportSplit"] = "ReportSplit"
    schema_version: Literal[1] = 1
    report_ticket_id: TicketId
    split_by: str


AnyEvent = Annotated[
    TicketSubmitted
    | TicketDispatched
    | TicketNeedsManualDispatch
    | SlaClockArmed
    | UnitNotified
    | TicketAcknowledged
    | TicketDeclined
    | TicketProgressNoted
    | ExtensionRequested
    | ExtensionApproved
    | ExtensionDenied
    | TicketUrged
    | TicketTransferred
    | TicketAwaitingResident
    | TicketResidentReplied
    | TicketRecategorised
    | UnitSignedOff
    | TicketResolved
    | TicketRated
    | CallbackAttempted
    | TicketReopened
    | TicketClosed
    | WhistleBlown
    | TicketTriaged
    | SlaWarning
    | SlaBreached
    | TicketEscalated
    | ResidentNotified
    | DeliveryFailed
    | HotspotDetected
    | ReportLinked
    | ReportSplit
    | AppealFiled
    | AppealDecided,
    Field(discriminator="type"),
]
# The list of event types is read from the union, so a new event is named once.
EVENT_TYPES: tuple[type[Event], ...] = get_args(get_args(AnyEvent)[0])
any_event: TypeAdapter[Event] = TypeAdapter(AnyEvent)
EVENTS_BY_TYPE: dict[str, type[Event]] = {event.__name__: event for event in EVENT_TYPES}


def parse_event(payload: bytes | str) -> Event:
    return any_event.validate_json(payload)


# --- reward points (积分): not about a ticket, so not an `Event` and not in TICKETS


class PointsExchanged(BaseModel):
    """A clerk at a community service centre exchanged a reporter's points for goods.

    Published by the points service on `points.exchanged.<reporter_ref>` (stream POINTS)
    after the balance was checked and debited atomically; `event_id` is the exchange id the
    clerk's screen chose (also the Nats-Msg-Id), so a retried exchange is one exchange.
    The points ledger is rebuilt from TICKETS plus these (docs/points.md)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(description="The exchange id; also the JetStream Nats-Msg-Id")
    type: Literal["PointsExchanged"] = "PointsExchanged"
    schema_version: Literal[1] = 1
    occurred_at: AwareDatetime
    producer: str = Field(description="Service that emitted the event")
    person: str | None = Field(default=None, description="The clerk's console account")
    reporter_ref: str = Field(description="The reporter reference, never a phone number")
    points: int = Field(gt=0, description="Points taken from the balance")
    goods: str = Field(max_length=200, description="What was handed over, e.g. 洗衣液 1 瓶")
    centre: str = Field(max_length=100, description="The community service centre")
    balance_after: int = Field(ge=0, description="The balance once the points were taken")


# Published beside the ticket events (their schemas too), on subjects of their own.
LEDGER_EVENT_TYPES: tuple[type[BaseModel], ...] = (PointsExchanged,)
