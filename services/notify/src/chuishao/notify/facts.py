"""What notify remembers about a ticket from events it has seen, so later events that do
not repeat it (a warning without a unit, a resolution without a priority) can be routed.
What it knows is an `Audience` (`chuishao.notify.audience`, no Redis there for planning)."""

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT, FieldT

from chuishao.common.domain import Level, Priority, Role
from chuishao.common.events import (
    Event,
    ReportLinked,
    ReportSplit,
    TicketDispatched,
    TicketSubmitted,
    TicketTriaged,
)
from chuishao.notify import keys
from chuishao.notify.audience import Audience

KEEP_SECONDS = 180 * 86_400


class FactsStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def remember(self, event: Event) -> Audience:
        """Keep what `event` tells about its ticket; returns all that is known now.
        One round trip to Redis."""
        [known] = await self.remember_all([event])
        return known

    async def remember_all(self, events: Sequence[Event]) -> list[Audience]:
        """`remember` for a batch, in order, in one transaction: each event's answer is
        what was known right after it (a later event of the same ticket adds to it)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            # Each event's commands end with its HGETALL: where its answer is.
            answers = [_queue(pipe, event) for event in events]
            replies = await pipe.execute()
        return [_facts(replies[at]) for at in answers]

    async def priority(self, ticket_id: str) -> Priority | None:
        """The ticket's priority as last dispatched (the router may have raised it)."""
        raw = await self.redis.hget(keys.ticket(ticket_id), "priority")
        return Priority(_text(raw)) if raw else None


def _fields(event: Event) -> dict[FieldT, EncodableT]:
    fields: dict[FieldT, EncodableT] = {}
    if isinstance(event, TicketSubmitted | TicketDispatched):
        fields["priority"] = event.priority.value
    if isinstance(event, TicketTriaged) and event.danger:
        fields["priority"] = Priority.EMERGENCY.value  # found dangerous by the router
    if isinstance(event, TicketDispatched):
        fields[f"unit:{event.unit_id}"] = f"{event.role.value}|{event.level.value}"
    if isinstance(event, ReportLinked):
        fields[f"linked:{event.duplicate_ticket_id}"] = "1"
    return fields


def _queue(pipe: Pipeline, event: Event) -> int:
    """Queues what `event` tells and a read of all that is known; returns the read's
    place among the pipeline's replies."""
    key = keys.ticket(event.ticket_id)
    if isinstance(event, ReportSplit):
        pipe.hdel(key, f"linked:{event.report_ticket_id}")
    if fields := _fields(event):
        pipe.hset(key, mapping=fields)
        pipe.expire(key, KEEP_SECONDS)
    pipe.hgetall(key)
    return len(pipe) - 1


def _facts(stored: dict[bytes, bytes]) -> Audience:
    raw = {_text(k): _text(v) for k, v in stored.items()}
    priority = raw.get("priority")
    units: dict[str, tuple[Role, Level]] = {}
    for name, value in raw.items():
        if name.startswith("unit:"):
            role, level = value.split("|")
            units[name.removeprefix("unit:")] = (Role(role), Level(level))
    linked = tuple(sorted(n.removeprefix("linked:") for n in raw if n.startswith("linked:")))
    return Audience(Priority(priority) if priority else None, units, linked)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


__all__ = ["Audience", "FactsStore"]  # Audience named here too: the tests import it
