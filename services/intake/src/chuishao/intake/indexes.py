"""Sorted-set indexes over ticket records, kept in the same transaction as the record,
so searches by status, category, unit, street, channel, time and overdue stay exact."""

from collections import defaultdict
from typing import Any

from chuishao.intake.lifecycle import Status
from chuishao.intake.records import TicketRecord

ALL = "idx:all"  # score: submitted time
UPDATED = "idx:updated"  # score: last change
DEADLINES = "idx:deadline"  # score: overdue_since, open and unresolved tickets only
# The tickets of DEADLINES whose deadline is at or before OVERDUE_UNTIL (a time, moved
# forward by `SWEEP_OVERDUE`), scored by submission time like the others: the city's
# overdue list is read a page at a time, not copied out of DEADLINES for every page
# (92 / 103 ms at 20,000 overdue tickets, about half a second at 100,000: docs/benchmarks.md).
OVERDUE = "idx:overdue"
OVERDUE_UNTIL = "overdue:until"  # a string, so not under idx:

# A record's place in OVERDUE, decided in Redis against the watermark as it is when the
# transaction runs (a writer's own clock could be behind the sweep's and drop a ticket
# the sweep has passed). KEYS: OVERDUE, OVERDUE_UNTIL; ARGV: for each record its id, its
# submission time and its deadline ('' for none).
PLACE_OVERDUE = """
local mark = tonumber(redis.call('GET', KEYS[2]) or '')
for i = 1, #ARGV, 3 do
  local deadline = tonumber(ARGV[i + 2])
  if mark and deadline and deadline <= mark then
    redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
  else
    redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return 0
"""

# Move the watermark towards `at` (never back), adding the tickets whose deadline it
# passes, at most `chunk` of them a call (with all of the last one's deadline) so a first
# sweep over a city's overdue tickets does not hold Redis for long; returns the watermark
# reached. KEYS: DEADLINES, OVERDUE, ALL, OVERDUE_UNTIL; ARGV: at, chunk.
SWEEP_OVERDUE = """
local raw = redis.call('GET', KEYS[4])
local mark = tonumber(raw or '')
if mark and tonumber(ARGV[1]) <= mark then return raw end
local low = raw and ('(' .. raw) or '-inf'
local due = redis.call('ZRANGEBYSCORE', KEYS[1], low, ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local reached = ARGV[1]
if #due == tonumber(ARGV[2]) then
  reached = redis.call('ZSCORE', KEYS[1], due[#due])
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], reached, reached)) do
    due[#due + 1] = id
  end
end
for _, id in ipairs(due) do
  local submitted = redis.call('ZSCORE', KEYS[3], id)
  if submitted then redis.call('ZADD', KEYS[2], submitted, id) end
end
redis.call('SET', KEYS[4], reached)
return reached
"""


def status_key(status: str) -> str:
    return f"idx:status:{status}"


def category_key(category: str) -> str:
    return f"idx:category:{category}"


def unit_key(unit_id: str) -> str:
    return f"idx:unit:{unit_id}"


def street_key(street: str) -> str:
    return f"idx:street:{street}"


def waiting_key(arbiter: str) -> str:
    """Tickets on no street that wait for this command centre (scopes.can_see)."""
    return f"idx:unplaced:{arbiter}"


def channel_key(channel: str) -> str:
    return f"idx:channel:{channel}"


def reporter_key(reporter_ref: str) -> str:
    """A caller's tickets, by the keyed pseudonym of their number (never the number)."""
    return f"idx:reporter:{reporter_ref}"


# Tickets with any appeal (申诉), and with one waiting for a decision (申诉审核).
APPEALS = "idx:appeals"
APPEALS_PENDING = "idx:appeals:pending"


def _memberships(record: TicketRecord) -> set[str]:
    keys = {ALL, status_key(record.status), channel_key(record.channel)}
    if record.category:
        keys.add(category_key(record.category))
    if record.street:
        keys.add(street_key(record.street))
    elif record.arbiter:
        keys.add(waiting_key(record.arbiter))
    if record.reporter_ref:
        keys.add(reporter_key(record.reporter_ref))
    keys |= {unit_key(a.unit_id) for a in record.assignments}
    if record.appeals:
        keys.add(APPEALS)
    if record.pending_appeals:
        keys.add(APPEALS_PENDING)
    return keys


# Redis GEO takes latitudes within ±85.05112878° only (Web Mercator): a point beyond it is
# stored and routed as any other, but neither indexed nor searched for duplicates.
GEO_LAT_LIMIT = 85.05112878


def geo_indexable(lat: float | None) -> bool:
    return lat is not None and -GEO_LAT_LIMIT <= lat <= GEO_LAT_LIMIT


def geo_key(category: str) -> str:
    """Open tickets of a category by location, for duplicate clustering."""
    return f"geo:open:{category}"


def _geo_membership(record: TicketRecord | None) -> str | None:
    if record is None or record.category is None or not geo_indexable(record.location.lat):
        return None
    if record.status in (Status.RESOLVED, Status.CLOSED, Status.LINKED):
        return None
    return geo_key(record.category)


def update(pipe: Any, before: TicketRecord | None, after: TicketRecord) -> None:
    """Queue the index changes from `before` to `after` on a MULTI pipeline."""
    ticket_id = after.ticket_id
    submitted = after.submitted_at.timestamp()
    was_in = _memberships(before) if before else set()
    now_in = _memberships(after)
    for key in was_in - now_in:
        pipe.zrem(key, ticket_id)
    # The score (submission time) never changes: only new memberships are written.
    for key in now_in - was_in:
        pipe.zadd(key, {ticket_id: submitted})
    pipe.zadd(UPDATED, {ticket_id: after.updated_at.timestamp()})
    was_at, now_at = _geo_membership(before), _geo_membership(after)
    if was_at and was_at != now_at:
        pipe.zrem(was_at, ticket_id)
    if now_at and now_at != was_at:
        pipe.geoadd(now_at, (after.location.long, after.location.lat, ticket_id))
    deadline = _deadline(after)
    if deadline is not None:
        pipe.zadd(DEADLINES, {ticket_id: deadline})
    else:
        pipe.zrem(DEADLINES, ticket_id)
    pipe.eval(PLACE_OVERDUE, 2, OVERDUE, OVERDUE_UNTIL, *_overdue_args(after))


def _deadline(record: TicketRecord) -> float | None:
    """Its score in DEADLINES: when it is (or was) overdue, while open and unresolved."""
    deadline = record.overdue_since
    if deadline is None or record.status in (Status.RESOLVED, Status.CLOSED):
        return None
    return deadline.timestamp()


def _overdue_args(record: TicketRecord) -> tuple[str, str, str]:
    deadline = _deadline(record)
    return (
        record.ticket_id,
        repr(record.submitted_at.timestamp()),
        "" if deadline is None else repr(deadline),
    )


def add_many(pipe: Any, records: list[TicketRecord]) -> None:
    """What `update(pipe, None, record)` queues for each record, a command per index
    instead of about ten per record: the rebuild writes 500 records a transaction, and
    redis-py spends some 70 µs of CPU on each command it queues and reads back."""
    scored: defaultdict[str, dict[str, float]] = defaultdict(dict)
    placed: defaultdict[str, list[Any]] = defaultdict(list)
    not_overdue: list[str] = []
    overdue_args: list[str] = []
    for record in records:
        ticket_id = record.ticket_id
        for key in _memberships(record):
            scored[key][ticket_id] = record.submitted_at.timestamp()
        scored[UPDATED][ticket_id] = record.updated_at.timestamp()
        if at := _geo_membership(record):
            placed[at].extend((record.location.long, record.location.lat, ticket_id))
        if (deadline := _deadline(record)) is not None:
            scored[DEADLINES][ticket_id] = deadline
        else:
            not_overdue.append(ticket_id)
        overdue_args += _overdue_args(record)
    for key, members in scored.items():
        pipe.zadd(key, members)
    for key, values in placed.items():
        pipe.geoadd(key, values)
    if not_overdue:
        pipe.zrem(DEADLINES, *not_overdue)
    if overdue_args:
        pipe.eval(PLACE_OVERDUE, 2, OVERDUE, OVERDUE_UNTIL, *overdue_args)
