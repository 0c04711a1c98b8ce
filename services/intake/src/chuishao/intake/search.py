"""Searching tickets through the indexes, newest first, with an opaque cursor."""

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from redis.asyncio import Redis

from chuishao.intake import indexes
from chuishao.intake.lifecycle import Actor
from chuishao.intake.records import TicketRecord
from chuishao.intake.store import TicketStore


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    category: str | None = None
    unit: str | None = None
    street: str | None = None
    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    overdue_at: datetime | None = None
    ticket_ids: tuple[str, ...] = ()
    # What the caller may know of (scope_keys): the union of these indexes; None = all.
    within: tuple[str, ...] | None = None


def scope_keys(actor: Actor) -> tuple[str, ...] | None:
    """The indexes whose union is every ticket the caller may know of (scopes.can_see)."""
    if actor.kind == "operator" or actor.scope.everywhere:
        return None
    if actor.kind == "resident":
        return ()  # a resident reads its own ticket by its link, never by searching
    keys = [indexes.unit_key(actor.id), *map(indexes.street_key, sorted(actor.scope.streets))]
    if actor.kind == "supervisor":
        keys.append(indexes.waiting_key(actor.id))
    return tuple(keys)


@dataclass(frozen=True)
class Page:
    items: list[TicketRecord]
    next_cursor: str | None


class BadCursor(ValueError):
    pass


def _encode(score: float, ticket_id: str) -> str:
    return base64.urlsafe_b64encode(f"{score!r}|{ticket_id}".encode()).decode()


def _decode(cursor: str) -> tuple[float, str]:
    try:
        score, ticket_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return float(score), ticket_id
    except (ValueError, UnicodeDecodeError) as error:
        raise BadCursor("cursor is not one this API gave out") from error


def _keys(filters: Filters) -> list[str]:
    keys = [indexes.ALL]
    if filters.status:
        keys.append(indexes.status_key(filters.status))
    if filters.category:
        keys.append(indexes.category_key(filters.category))
    if filters.unit:
        keys.append(indexes.unit_key(filters.unit))
    if filters.street:
        keys.append(indexes.street_key(filters.street))
    if filters.channel:
        keys.append(indexes.channel_key(filters.channel))
    return keys


async def search(
    redis: Redis, store: TicketStore, filters: Filters, limit: int, cursor: str | None = None
) -> Page:
    keys = _keys(filters)
    scored = cast(
        "list[tuple[bytes, float]]",
        await redis.zinter(keys, withscores=True, aggregate="MIN")
        if len(keys) > 1
        else await redis.zrange(keys[0], 0, -1, withscores=True),
    )
    low = filters.since.timestamp() if filters.since else float("-inf")
    high = filters.until.timestamp() if filters.until else float("inf")
    wanted = set(filters.ticket_ids)
    allowed: set[bytes] | None = None
    if filters.within is not None:
        members = await redis.zunion(filters.within) if filters.within else []
        allowed = set(cast("list[bytes]", members))
    overdue: set[bytes] | None = None
    if filters.overdue_at is not None:
        due = await redis.zrangebyscore(indexes.DEADLINES, "-inf", filters.overdue_at.timestamp())
        overdue = set(cast("list[bytes]", due))
    rows = sorted(
        (
            (score, member.decode())
            for member, score in scored
            if low <= score <= high
            and (allowed is None or member in allowed)
            and (overdue is None or member in overdue)
            and (not wanted or member.decode() in wanted)
        ),
        reverse=True,
    )
    if cursor:
        after = _decode(cursor)
        rows = [row for row in rows if row < after]
    page = rows[:limit]
    items = await store.get_many([ticket_id for _, ticket_id in page])
    more = len(rows) > limit
    return Page(items, _encode(*page[-1]) if more and page else None)
