"""What notify remembers about a ticket from events it has seen, so later events that do
not repeat it (a warning without a unit, a resolution without a priority) can be routed.
What it knows is an `Audience` (`chuishao.notify.audience`, no Redis there for planning)."""

from collections.abc import Mapping, Sequence
from typing import cast

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

    async def known(self, events: Sequence[Event]) -> list[Audience]:
        """What each event of a batch knows about its ticket, in stream order, without
        writing anything: the tickets' facts read in one round trip, and each event's
        own told on top of those before it, in memory. The caller writes them afterwards
        (`queue_told`, in its own transaction), so a batch that fails before its writes
        leaves them as they were and a retry sees what this read saw."""
        ids = list(dict.fromkeys(event.ticket_id for event in events))
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id in ids:
                pipe.hgetall(keys.ticket(ticket_id))
            stored = await pipe.execute()
        facts = {
            ticket_id: {_text(k): _text(v) for k, v in found.items()}
            for ticket_id, found in zip(ids, stored, strict=True)
        }
        known: list[Audience] = []
        for event in events:
            fields = facts[event.ticket_id]
            if isinstance(event, ReportSplit):
                fields.pop(f"linked:{event.report_ticket_id}", None)
            fields.update(_fields(event))
            known.append(_audience(fields))
        return known

    async def priority(self, ticket_id: str) -> Priority | None:
        """The ticket's priority as last dispatched (the router may have raised it)."""
        raw = await self.redis.hget(keys.ticket(ticket_id), "priority")
        return Priority(_text(raw)) if raw else None


def _fields(event: Event) -> dict[str, str]:
    """What `event` tells about its ticket, as the hash's fields."""
    fields: dict[str, str] = {}
    if isinstance(event, TicketSubmitted | TicketDispatched):
        fields["priority"] = event.priority.value
    if isinstance(event, TicketTriaged) and event.danger:
        fields["priority"] = Priority.EMERGENCY.value  # found dangerous by the router
    if isinstance(event, TicketDispatched):
        fields[f"unit:{event.unit_id}"] = f"{event.role.value}|{event.level.value}"
    if isinstance(event, ReportLinked):
        fields[f"linked:{event.duplicate_ticket_id}"] = "1"
    return fields


def queue_told(pipe: Pipeline, event: Event) -> None:
    """Keep what `event` tells about its ticket, inside the caller's transaction."""
    key = keys.ticket(event.ticket_id)
    if isinstance(event, ReportSplit):
        pipe.hdel(key, f"linked:{event.report_ticket_id}")
    if fields := _fields(event):
        pipe.hset(key, mapping=cast(Mapping[FieldT, EncodableT], fields))
        pipe.expire(key, KEEP_SECONDS)


def _audience(raw: dict[str, str]) -> Audience:
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
