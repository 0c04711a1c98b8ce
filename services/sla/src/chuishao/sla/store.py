"""A ticket's sla state in Redis, changed only through `transact`: optimistic (WATCH),
so two replicas, or the consumer and the timer loop, never overwrite each other.

Publish, then commit. The events a decision produces are published (and acknowledged by
JetStream) before the facts that record them are committed, in one MULTI with the
timer and the indexes. A crash in between re-runs the decision on the old state, which
produces the same event ids, and JetStream drops the repeats: nothing is lost, and
nothing is announced twice.
"""

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from chuishao.common.events import Event
from chuishao.sla import keys
from chuishao.sla.decisions import Outcome, TicketState
from chuishao.sla.replay import TicketClocks

Publish = Callable[[list[Event]], Awaitable[None]]
"""Publishes events in order and returns once JetStream has acknowledged them all."""
Decide = Callable[[TicketState | None], Outcome | None]

# A finished ticket's clocks stay readable (deadlines query) for a while, then go.
FINISHED_KEEP_SECONDS = 30 * 86_400


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


class TicketStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def load(self, ticket_id: str) -> TicketState | None:
        raw = await self.redis.get(keys.ticket(ticket_id))
        return TicketState.model_validate_json(raw) if raw else None

    async def transact(
        self, ticket_id: str, decide: Decide, publish: Publish, *, claimed: bool = False
    ) -> Outcome | None:
        key = keys.ticket(ticket_id)
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    outcome = decide(TicketState.model_validate_json(raw) if raw else None)
                    if outcome is None:
                        return None
                    if outcome.events:
                        await publish(outcome.events)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    self._write(pipe, outcome, claimed=claimed)
                    await pipe.execute()
                except WatchError:
                    continue
                return outcome

    def _write(self, pipe: Pipeline, outcome: Outcome, *, claimed: bool) -> None:
        ticket_id = outcome.state.ticket_id
        index = deadline_index(outcome.ticket)
        for stale in set(outcome.state.indexed) - index.keys():
            pipe.zrem(stale, ticket_id)
        for index_key, score in index.items():
            pipe.zadd(index_key, {ticket_id: score})
        state = outcome.state.model_copy(update={"indexed": sorted(index)})
        is_open = any(True for _ in outcome.ticket.open_clocks())
        pipe.set(
            keys.ticket(ticket_id),
            state.model_dump_json(),
            ex=None if is_open or not outcome.ticket.closed_at else FINISHED_KEEP_SECONDS,
        )
        if is_open:
            pipe.sadd(keys.OPEN, ticket_id)
        else:
            pipe.srem(keys.OPEN, ticket_id)
        next_due = outcome.next_due
        if next_due is not None:
            pipe.zadd(keys.TIMERS, {ticket_id: next_due.timestamp()})
        else:
            pipe.zrem(keys.TIMERS, ticket_id)
        if claimed:
            pipe.zrem(keys.CLAIMS, ticket_id)
