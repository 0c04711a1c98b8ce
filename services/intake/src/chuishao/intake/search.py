"""Searching tickets through the indexes, newest first (or oldest first), with an opaque
cursor."""

import base64
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from redis.asyncio import Redis

from chuishao.intake import indexes
from chuishao.intake.lifecycle import Actor
from chuishao.intake.records import TicketRecord
from chuishao.intake.store import RecordStore


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    category: str | None = None
    unit: str | None = None
    street: str | None = None
    channel: str | None = None
    reporter_ref: str | None = None  # a caller's tickets (operators only: api.caller_lookup)
    since: datetime | None = None
    until: datetime | None = None
    overdue_at: datetime | None = None
    ticket_ids: tuple[str, ...] = ()
    # Tickets with appeals (申诉): "any", or "pending" (one waits for a decision).
    appeals: str | None = None
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
    """The filters' own indexes (each scored by submission time, like `indexes.ALL`)."""
    keys = []
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
    if filters.reporter_ref:
        keys.append(indexes.reporter_key(filters.reporter_ref))
    if filters.appeals:
        keys.append(indexes.APPEALS_PENDING if filters.appeals == "pending" else indexes.APPEALS)
    return keys


SWEEP_CHUNK = 5_000  # deadlines the overdue index takes in one Lua call (about 20 ms)
# A watermark further than this past the query's time (a clock run ahead, the demo's time
# travel): the index holds too many tickets not yet due then; the query copies instead.
AHEAD_SECONDS = 600.0


async def _overdue_index_at(redis: Redis, at: datetime) -> bool:
    """Bring the overdue index's watermark to `at` at least; whether the index can serve a
    query at `at` (the watermark is not far past it)."""
    while True:
        reached = float(
            await redis.eval(
                indexes.SWEEP_OVERDUE,
                4,
                indexes.DEADLINES,
                indexes.OVERDUE,
                indexes.ALL,
                indexes.OVERDUE_UNTIL,
                repr(at.timestamp()),
                str(SWEEP_CHUNK),
            )
        )
        if reached >= at.timestamp():
            return reached - at.timestamp() <= AHEAD_SECONDS


Rows = list[tuple[float, str]]


async def _due_rows(
    redis: Redis, read: Callable[[int], Awaitable[tuple[Rows, bool]]], limit: int, at: datetime
) -> Rows:
    """The overdue index's rows after the cursor whose deadline is (still) at or before
    `at`, `limit + 1` of them unless there are fewer: read four times more while the
    check leaves too few (rows the watermark passed early, or changed since)."""
    wanted = limit + 1
    while True:
        rows, all_read = await read(wanted)
        if not rows:
            return rows
        deadlines = await redis.zmscore(indexes.DEADLINES, [ticket_id for _, ticket_id in rows])
        due = [
            row
            for row, deadline in zip(rows, deadlines, strict=True)
            if deadline is not None and deadline <= at.timestamp()
        ]
        if len(due) > limit or all_read:
            return due
        wanted *= 4


async def search(
    redis: Redis,
    store: RecordStore,
    filters: Filters,
    limit: int,
    cursor: str | None = None,
    *,
    oldest_first: bool = False,
) -> Page:
    """Newest first, `limit` at a time. Only the page is read out of Redis: the filters'
    indexes are intersected there (Redis walks the smallest of them), the result lives for
    the one transaction, and `limit + 1` of it come back — so a page costs the size of
    the smallest filter, not the number of tickets. (Reading every match back and sorting
    it here took 0.3 s per page at 20,000 tickets and grew with them: docs/benchmarks.md.)"""
    if filters.within == ():
        return Page([], None)  # may know of nothing
    after = _decode(cursor) if cursor else None
    low = filters.since.timestamp() if filters.since else float("-inf")
    high = filters.until.timestamp() if filters.until else float("inf")
    token = uuid.uuid4().hex
    filtered = _keys(filters)
    # The city's overdue list alone: pages of the overdue index (tickets whose deadline
    # is at or before its watermark, scored by submission), each row checked against its
    # deadline now, since the watermark may be past `overdue_at` (another replica's clock,
    # or a query in between) and a writer may have changed a ticket since.
    overdue_at = filters.overdue_at
    alone = not filtered and filters.within is None and not filters.ticket_ids
    indexed = overdue_at is not None and alone and await _overdue_index_at(redis, overdue_at)
    if indexed:
        filtered = [indexes.OVERDUE]
        filters = dataclasses.replace(filters, overdue_at=None)

    async def read(wanted: int) -> tuple[Rows, bool]:
        """Up to `wanted` rows after the cursor (with its tied rows); whether that was all."""
        # Sets scored by something else (deadline, nothing) only select: weight 0, so the
        # sum is the submission time of the one index that counts (weight 1).
        selecting: list[str] = []
        async with redis.pipeline(transaction=True) as pipe:
            if filters.within is not None:
                scope = f"tmp:search:{token}:scope"
                pipe.zunionstore(scope, filters.within)
                selecting.append(scope)
            if filters.overdue_at is not None:
                overdue = f"tmp:search:{token}:overdue"
                at = filters.overdue_at.timestamp()
                if narrowing := [*filtered, *selecting]:
                    # The deadlines of the few tickets the other filters leave, then only the
                    # passed ones: not every overdue ticket of the city copied first.
                    pipe.zinterstore(overdue, {indexes.DEADLINES: 1} | dict.fromkeys(narrowing, 0))
                    pipe.zremrangebyscore(overdue, f"({at!r}", "+inf")
                else:
                    pipe.zrangestore(overdue, indexes.DEADLINES, "-inf", at, byscore=True)
                selecting.append(overdue)
            if filters.ticket_ids:
                named = f"tmp:search:{token}:ids"
                pipe.zadd(named, dict.fromkeys(filters.ticket_ids, 0))
                selecting.append(named)
            timed = filtered or [indexes.ALL]
            source = timed[0]
            if len(timed) > 1 or selecting:
                source = f"tmp:search:{token}:result"
                weights = [1] + [0] * (len(timed) - 1 + len(selecting))
                pipe.zinterstore(source, dict(zip([*timed, *selecting], weights, strict=True)))
            ties = after is not None and low <= after[0] <= high
            if oldest_first:
                # The mirror image: ascending scores, ties in ascending id order.
                bottom: float | str = low
                if after is not None and ties:
                    pipe.zrangebyscore(source, after[0], after[0], withscores=True)
                    bottom = f"({after[0]!r}"
                pipe.zrangebyscore(source, bottom, high, start=0, num=wanted, withscores=True)
            else:
                top: float | str = high
                if after is not None and ties:
                    # The page's last row's own score may be shared: those after it in the order.
                    pipe.zrevrangebyscore(source, after[0], after[0], withscores=True)
                    top = f"({after[0]!r}"
                pipe.zrevrangebyscore(source, top, low, start=0, num=wanted, withscores=True)
            temporary = [key for key in (source, *selecting) if key.startswith("tmp:search:")]
            if temporary:
                pipe.delete(*temporary)
            replies = await pipe.execute()
        end = len(replies) - bool(temporary)
        reads = replies[end - 1 - ties : end]
        rows: Rows = []
        if after is not None and ties:
            tied = cast("list[tuple[bytes, float]]", reads[0])
            rows += [
                (score, member.decode())
                for member, score in tied
                if (member.decode() > after[1] if oldest_first else member.decode() < after[1])
            ]
        rest = cast("list[tuple[bytes, float]]", reads[-1])
        rows += [(score, member.decode()) for member, score in rest]
        return rows, len(rest) < wanted

    if indexed and overdue_at is not None:
        rows = await _due_rows(redis, read, limit, overdue_at)
    else:
        rows, _ = await read(limit + 1)
    page = rows[:limit]
    items = await store.get_many([ticket_id for _, ticket_id in page])
    more = len(rows) > limit
    return Page(items, _encode(*page[-1]) if more and page else None)
