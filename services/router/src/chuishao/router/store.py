"""The router's states in Redis, the command centres' manual queues and its outbox (the
keys: `chuishao.router.keys`). What a step emits is queued
in the outbox with the state (`RoutingStore.save`), so a state is never saved without its
events nor its events sent for a state that lost a race."""

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from chuishao.common.events import Event
from chuishao.common.outbox import Outbox
from chuishao.router import keys
from chuishao.router.state import TicketRouting, queue_score

KEEP_SECONDS = 400 * 86_400  # as long as the TICKETS stream keeps the events


class StateConflict(RuntimeError):
    """Another router instance changed the ticket first; the message is retried."""


def following(state: TicketRouting, previous: TicketRouting | None) -> TicketRouting:
    """`state` as saved over `previous`: the next revision."""
    return state.model_copy(update={"revision": (previous.revision if previous else 0) + 1})


def _text(raw: object) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class RoutingStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        # What a step emits leaves with its state (chuishao.common.outbox).
        self.outbox = Outbox(
            redis, "router-outbox", queued_key=keys.OUTBOX, payloads_key=keys.OUTBOX_EVENTS
        )

    async def get(self, ticket_id: str) -> TicketRouting | None:
        raw = await self.redis.get(keys.ticket(ticket_id))
        return TicketRouting.from_stored(raw) if raw else None

    async def save(
        self, state: TicketRouting, previous: TicketRouting | None, events: Sequence[Event] = ()
    ) -> TicketRouting:
        """Write the new state if nobody wrote since `previous` was read, keep the
        manual-dispatch queues in step and queue the `events` it emits in the outbox, in
        one transaction."""
        expected = previous.revision if previous else 0
        saved = following(state, previous)
        key = keys.ticket(state.ticket_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                raw = await pipe.get(key)
                current = TicketRouting.from_stored(raw).revision if raw else 0
                if current != expected:
                    raise StateConflict(f"{state.ticket_id}: revision {current} != {expected}")
                pipe.multi()  # type: ignore[no-untyped-call]
                self.queue_save(pipe, saved, previous, events)
                await pipe.execute()
            except WatchError as error:
                raise StateConflict(state.ticket_id) from error
        return saved

    def queue_save(
        self,
        pipe: Pipeline,
        saved: TicketRouting,
        previous: TicketRouting | None,
        events: Sequence[Event],
    ) -> None:
        """`save`'s writes, inside the caller's transaction (after MULTI): the state, the
        events in the outbox, the manual queues moved from `previous`'s to `saved`'s."""
        pipe.set(keys.ticket(saved.ticket_id), saved.stored(), ex=KEEP_SECONDS)
        self.outbox.queue(pipe, events)
        was = previous.manual if previous else None
        if was is not None and (saved.manual is None or saved.manual.arbiter_id != was.arbiter_id):
            pipe.zrem(keys.manual_queue(was.arbiter_id), saved.ticket_id)
        if saved.manual is not None:
            score = queue_score(saved.manual)
            pipe.zadd(keys.manual_queue(saved.manual.arbiter_id), {saved.ticket_id: score})

    async def queue(self, arbiter_id: str, limit: int = 100) -> list[TicketRouting]:
        """Tickets waiting for this command centre: emergencies first, then oldest first."""
        ticket_ids = await self.redis.zrange(keys.manual_queue(arbiter_id), 0, limit - 1)
        states = [await self.get(_text(raw)) for raw in ticket_ids]
        return [state for state in states if state is not None and state.manual is not None]
