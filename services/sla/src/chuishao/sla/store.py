"""A ticket's sla state in Redis, changed only by compare-and-set: a commit applies only
if the state is still the one the decision was made on, so two replicas, or the
consumer and the timer loop, never overwrite each other.

Commit, then publish: the project's one outbox (chuishao.common.outbox). The commit
writes the state, the timer, the open-ticket set, the overdue indexes and the decision's
events, queued in the outbox, atomically (one Lua script); the caller then publishes the
events and confirms them after the PubAck, and the outbox relay sends what a crash or an
outage left unconfirmed (same ids, so the stream drops a repeat). A decision that loses
the compare-and-set publishes nothing: only what was committed is ever announced.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from chuishao.common.outbox import Outbox
from chuishao.sla import keys
from chuishao.sla.decisions import SlaDecision, TicketState
from chuishao.sla.replay import TicketClocks

Decide = Callable[[TicketState | None], SlaDecision | None]

# A finished ticket's clocks stay readable (deadlines query) for a while, then go.
FINISHED_KEEP_SECONDS = 30 * 86_400
MAX_ATTEMPTS = 100

# KEYS: state, timers, claims, open set, the outbox's queued set and payloads, then every
#       overdue index touched.
# ARGV: expected state ('' when absent), new state, ttl ('' none), next due ('' none),
#       release the claim ('1'), ticket id, still open ('1'), when queued (wall time),
#       how many events n, then n pairs (event id, payload), then one score per index
#       key ('' removes the ticket from it).
_COMMIT = """
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[9])
for e = 0, n - 1 do
  local event_id = ARGV[10 + 2 * e]
  redis.call('ZADD', KEYS[5], ARGV[8], event_id)
  redis.call('HSET', KEYS[6], event_id, ARGV[11 + 2 * e])
end
local scores = 9 + 2 * n
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
local id = ARGV[6]
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[2], id)
else
  redis.call('ZADD', KEYS[2], ARGV[4], id)
end
if ARGV[5] == '1' then redis.call('ZREM', KEYS[3], id) end
if ARGV[7] == '1' then redis.call('SADD', KEYS[4], id) else redis.call('SREM', KEYS[4], id) end
for i = 7, #KEYS do
  local score = ARGV[scores + i - 6]
  if score == '' then
    redis.call('ZREM', KEYS[i], id)
  else
    redis.call('ZADD', KEYS[i], score, id)
  end
end
return 1
"""


class Conflict(Exception):
    """The ticket kept changing under a decision; it was not committed."""


def deadline_index(ticket: TicketClocks) -> dict[str, float]:
    """Index key -> earliest open deadline, for the overdue queries."""
    index: dict[str, float] = {}

    def note(key: str, score: float) -> None:
        index[key] = min(score, index.get(key, score))

    for clock in ticket.open_clocks():
        deadline = clock.deadline
        if deadline is None:  # paused: not overdue while the resident is asked
            continue
        score = deadline.timestamp()
        note(keys.DEADLINES_ALL, score)
        if ticket.street:
            note(keys.street_deadlines(ticket.street), score)
        for unit_id in ticket.answerable(clock):
            note(keys.unit_deadlines(unit_id), score)
    return index


@dataclass(frozen=True)
class Loaded:
    """A state as read, kept verbatim: the commit compares against exactly these bytes."""

    raw: bytes | None

    @property
    def state(self) -> TicketState | None:
        return TicketState.from_stored(self.raw) if self.raw else None


class SlaStateStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._commit = redis.register_script(_COMMIT)
        # What a decision emits leaves with its state (chuishao.common.outbox).
        self.outbox = Outbox(
            redis, keys.OUTBOX_NAME, queued_key=keys.OUTBOX, payloads_key=keys.OUTBOX_EVENTS
        )

    async def load(self, ticket_id: str) -> TicketState | None:
        return (await self.read(ticket_id)).state

    async def read(self, ticket_id: str) -> Loaded:
        return Loaded(_as_bytes(await self.redis.get(keys.ticket(ticket_id))))

    async def read_many(self, ticket_ids: Sequence[str]) -> list[Loaded]:
        if not ticket_ids:
            return []
        found = await self.redis.mget([keys.ticket(t) for t in ticket_ids])
        return [Loaded(_as_bytes(raw)) for raw in found]

    async def transact(
        self, ticket_id: str, decide: Decide, *, claimed: bool = False
    ) -> SlaDecision | None:
        """Decide on the state as read and commit it with its events queued; a state that
        changed meanwhile is read and decided again. Returns the committed decision (its
        events still to be published: `Outbox.publish_all`), or None: nothing to do."""
        for _ in range(MAX_ATTEMPTS):
            loaded = await self.read(ticket_id)
            outcome = decide(loaded.state)
            if outcome is None:
                return None
            if await self.commit(outcome, loaded, claimed=claimed):
                return outcome
        raise Conflict(ticket_id)

    async def commit(self, outcome: SlaDecision, loaded: Loaded, *, claimed: bool) -> bool:
        script_keys, args = self._commit_call(outcome, loaded, claimed=claimed)
        return bool(await self._commit(keys=script_keys, args=args))

    async def commit_many(
        self, decided: Sequence[tuple[SlaDecision, Loaded]], *, claimed: bool
    ) -> list[bool]:
        """Many commits in one round trip; each is atomic and checked on its own."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for outcome, loaded in decided:
                script_keys, args = self._commit_call(outcome, loaded, claimed=claimed)
                await self._commit(keys=script_keys, args=args, client=pipe)
            return [bool(done) for done in await pipe.execute()]

    def _commit_call(
        self, outcome: SlaDecision, loaded: Loaded, *, claimed: bool
    ) -> tuple[list[str], list[bytes | str]]:
        ticket = outcome.ticket
        index = deadline_index(ticket)
        touched = sorted(set(outcome.state.indexed) | index.keys())
        state = outcome.state.model_copy(update={"indexed": sorted(index)})
        is_open = any(True for _ in ticket.open_clocks())
        finished = not is_open and ticket.closed_at is not None
        next_due = outcome.next_due
        queued = self.outbox.entries(outcome.events)
        script_keys = [
            keys.ticket(state.ticket_id),
            keys.TIMERS,
            keys.CLAIMS,
            keys.OPEN,
            self.outbox.queued_key,
            self.outbox.payloads_key,
            *touched,
        ]
        args: list[bytes | str] = [
            loaded.raw or b"",
            state.stored(),
            str(FINISHED_KEEP_SECONDS) if finished else "",
            repr(next_due.timestamp()) if next_due else "",
            "1" if claimed else "0",
            state.ticket_id,
            "1" if is_open else "0",
            # Wall time, not the stack clock: the relay is about publishes that never returned.
            repr(time.time()),
            str(len(queued)),
            *(part for entry in queued for part in entry),
            *(repr(index[key]) if key in index else "" for key in touched),
        ]
        return script_keys, args


def _as_bytes(raw: bytes | str | None) -> bytes | None:
    return raw.encode() if isinstance(raw, str) else raw
