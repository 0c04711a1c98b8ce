"""Events: facts that happened, past tense, each with the envelope and a schema version.

Every event is frozen. Consumers ignore fields they do not know, so adding an optional
field is compatible; anything else bumps `schema_version` and the published schema.
"""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from chuishao.common.clock import Clock
from chuishao.common.domain import (
    CategoryCode,
    Channel,
    ClockKind,
    Level,
    Location,
    Priority,
    Role,
    TicketId,
    UnitId,
    Whistle,
)
from chuishao.common.ids import derived_id, new_event_id

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

    kind: ClassVar[str]
    """Subject token for this event type (see chuishao.common.subjects)."""

    @classmethod
    def first(
        cls,
        *,
        producer: str,
        clock: Clock,
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


class TicketSubmitted(Event):
    """A report was accepted and stored; routing starts here."""

    kind: ClassVar[str] = "submitted"
    type: Literal["TicketSubmitted"] = "TicketSubmitted"
    schema_version: Literal[1] = 1
    category: CategoryCode
    description: str = Field(max_length=4000)
    priority: Priority
    channel: Channel
    location: Location
    media_urls: tuple[str, ...] = ()
    reporter_ref: str | None = Field(
        default=None, description="Pseudonym of the reporter; never the name or phone"
    )


class TicketDispatched(Event):
    """A unit was summoned to a ticket (one event per unit)."""

    kind: ClassVar[str] = "dispatched"
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


class TicketNeedsManualDispatch(Event):
    """No rule could place the ticket; the street command centre must dispatch it."""

    kind: ClassVar[str] = "manual_dispatch"
    type: Literal["TicketNeedsManualDispatch"] = "TicketNeedsManualDispatch"
    schema_version: Literal[1] = 1
    category: CategoryCode
    reason: str


class SlaClockArmed(Event):
    """A clock started (or restarted) on a ticket."""

    kind: ClassVar[str] = "clock_armed"
    type: Literal["SlaClockArmed"] = "SlaClockArmed"
    schema_version: Literal[1] = 1
    clock: ClockKind
    level: Level
    unit_id: UnitId | None = None
    limit_seconds: int = Field(gt=0)
    deadline: AwareDatetime


class UnitNotified(Event):
    """A dispatch reached the unit's own channel."""

    kind: ClassVar[str] = "unit_notified"
    type: Literal["UnitNotified"] = "UnitNotified"
    schema_version: Literal[1] = 1
    unit_id: UnitId
    channel: Literal["nats", "webhook"]
    address: str = Field(description="The subject or URL it was delivered to")


AnyEvent = Annotated[
    TicketSubmitted | TicketDispatched | TicketNeedsManualDispatch | SlaClockArmed | UnitNotified,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[type[Event], ...] = (
    TicketSubmitted,
    TicketDispatched,
    TicketNeedsManualDispatch,
    SlaClockArmed,
    UnitNotified,
)
any_event: TypeAdapter[Event] = TypeAdapter(AnyEvent)


def parse_event(payload: bytes | str) -> Event:
    return any_event.validate_json(payload)
