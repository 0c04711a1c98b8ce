"""What the router remembers about each ticket it routed (Redis, `router:ticket:<id>`).

Later events (declined, reopened, transferred, escalated) carry neither the place nor the
description, and the re-dispatch needs both; and "never the same unit straight back"
needs who declined. Each state records the events it has applied, so a redelivery that
got past the handled marker still changes nothing.
"""

from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from redis.exceptions import WatchError

from chuishao.common.domain import (
    CategoryCode,
    Level,
    Location,
    Priority,
    Role,
    TicketId,
    UnitId,
    Whistle,
)
from chuishao.common.events import TicketNeedsManualDispatch
from chuishao.router.places import Place

KEEP_SECONDS = 400 * 86_400  # as long as the TICKETS stream keeps the events
APPLIED_KEPT = 64


class Assignment(BaseModel):
    model_config = ConfigDict(frozen=True)

    unit_id: UnitId
    role: Role


class ManualEntry(BaseModel):
    """A ticket waiting for a command centre to dispatch it by hand."""

    model_config = ConfigDict(frozen=True)

    arbiter_id: UnitId
    reason: str
    suggested_category: CategoryCode | None = None
    confidence: float | None = None
    cause: TicketNeedsManualDispatch = Field(description="The event that queued it")


class TicketRouting(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: TicketId
    category: CategoryCode | None
    priority: Priority
    description: str
    location: Location
    media_urls: tuple[str, ...] = ()
    place: Place | None
    level: Level = Level.COMMUNITY
    whistle: Whistle = Whistle.DAILY
    assignments: tuple[Assignment, ...] = ()
    alternates: tuple[UnitId, ...] = ()
    declined: tuple[UnitId, ...] = ()
    bounces: int = 0
    manual: ManualEntry | None = None
    applied: tuple[str, ...] = ()
    revision: int = 0

    def role_of(self, unit_id: str) -> Role | None:
        return next((a.role for a in self.assignments if a.unit_id == unit_id), None)

    def assigned(self) -> tuple[str, ...]:
        return tuple(a.unit_id for a in self.assignments)

    def with_assignment(self, unit_id: str, role: Role) -> "TicketRouting":
        kept = tuple(a for a in self.assignments if a.unit_id != unit_id)
        return self.model_copy(
            update={"assignments": (*kept, Assignment(unit_id=unit_id, role=role))}
        )

    def without(self, unit_id: str) -> "TicketRouting":
        kept = tuple(a for a in self.assignments if a.unit_id != unit_id)
        return self.model_copy(update={"assignments": kept})

    def applying(self, event_id: str) -> "TicketRouting":
        return self.model_copy(update={"applied": (*self.applied, event_id)[-APPLIED_KEPT:]})


class StateConflict(RuntimeError):
    """Another router instance changed the ticket first; the message is retried."""


def _text(raw: object) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _key(ticket_id: str) -> str:
    return f"router:ticket:{ticket_id}"


def _queue_key(arbiter_id: str) -> str:
    return f"router:manual:{arbiter_id}"


class RoutingStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, ticket_id: str) -> TicketRouting | None:
        raw = await self.redis.get(_key(ticket_id))
        return TicketRouting.model_validate_json(raw) if raw else None

    async def save(self, state: TicketRouting, previous: TicketRouting | None) -> TicketRouting:
        """Write the new state if nobody wrote since `previous` was read, and keep the
        manual-dispatch queues in step, in one transaction."""
        expected = previous.revision if previous else 0
        saved = state.model_copy(update={"revision": expected + 1})
        key = _key(state.ticket_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                raw = await pipe.get(key)
                current = TicketRouting.model_validate_json(raw).revision if raw else 0
                if current != expected:
                    raise StateConflict(f"{state.ticket_id}: revision {current} != {expected}")
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.set(key, saved.model_dump_json(), ex=KEEP_SECONDS)
                was = previous.manual if previous else None
                if was is not None and (
                    state.manual is None or state.manual.arbiter_id != was.arbiter_id
                ):
                    pipe.zrem(_queue_key(was.arbiter_id), state.ticket_id)
                if state.manual is not None:
                    queued_at = state.manual.cause.occurred_at.timestamp()
                    pipe.zadd(_queue_key(state.manual.arbiter_id), {state.ticket_id: queued_at})
                await pipe.execute()
            except WatchError as error:
                raise StateConflict(state.ticket_id) from error
        return saved

    async def queue(self, arbiter_id: str, limit: int = 100) -> list[TicketRouting]:
        """Tickets waiting for this command centre, oldest first."""
        ticket_ids = await self.redis.zrange(_queue_key(arbiter_id), 0, limit - 1)
        states = [await self.get(_text(raw)) for raw in ticket_ids]
        return [state for state in states if state is not None and state.manual is not None]
