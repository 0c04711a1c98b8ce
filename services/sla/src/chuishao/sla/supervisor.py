"""The sla service's work: apply lifecycle events, fire due timers, sweep for drift.
FastStream only feeds it events; tests and the benchmark drive it directly.

Every decision is committed with its events queued in the outbox (`SlaStateStore`), then
published and confirmed; what is not confirmed the outbox relay sends (`relay`)."""

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from nats.aio.client import Client
from redis.asyncio import Redis
from redis.exceptions import RedisError

from chuishao.common.batches import one_per_ticket
from chuishao.common.clock import Clock
from chuishao.common.events import Event
from chuishao.common.outbox import relay_once
from chuishao.sla import keys
from chuishao.sla.decisions import SlaDecision, TicketState, on_event, on_timer
from chuishao.sla.facts import Escalated
from chuishao.sla.policies import PolicyBook
from chuishao.sla.settings import SlaSettings
from chuishao.sla.store import Decide, SlaStateStore
from chuishao.sla.timers import TimerStore

log = structlog.get_logger()


@dataclass
class Counters:
    """What this replica did; tests compare replicas with them."""

    fired: int = 0
    escalations: int = 0
    publish_failures: int = 0  # committed, left to the outbox relay
    commit_failures: int = 0  # claims given back
    repaired: int = 0
    escalated_tickets: list[str] = field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        *,
        redis: Redis,
        nats: Client,
        book: PolicyBook,
        clock: Clock,
        settings: SlaSettings,
    ) -> None:
        self.redis = redis
        self.nats = nats
        self.book = book
        self.clock = clock
        self.settings = settings
        self.store = SlaStateStore(redis)
        self.timers = TimerStore(redis)
        self.counters = Counters()
        self.js = nats.jetstream()

    async def publish(self, events: list[Event]) -> None:
        """Committed events, pipelined (sent in order on one connection, so stored in
        order; the acknowledgements awaited together), then confirmed in the outbox."""
        if events:
            await self.store.outbox.publish_all(
                self.js, events, timeout=self.settings.sla_publish_timeout_seconds
            )

    async def transact(self, ticket_id: str, decide: Decide) -> SlaDecision | None:
        """Decide and commit (retried on conflict), then publish. A failed publish
        raises, its events stay queued for the relay."""
        outcome = await self.store.transact(ticket_id, decide)
        if outcome is not None:
            await self.publish(outcome.events)
        return outcome

    async def relay(self, grace: float) -> int:
        """Publish what was committed more than `grace` seconds ago and not confirmed."""
        return len(await relay_once(self.store.outbox, self.js, grace))

    # --- lifecycle events

    async def apply(self, event: Event) -> None:
        # A failed publish nacks the message; its redelivery finds the fact recorded and
        # decides nothing, and the relay sends the queued events.
        await self.transact(event.ticket_id, self._deciding(event))

    async def apply_batch(self, events: Sequence[Event]) -> None:
        """A batch of lifecycle events in stream order, in a few round trips: its parts
        (each ticket once in a part, `one_per_ticket`) read with one MGET, decided, and
        committed in one round of compare-and-set scripts; what was committed is
        published together. A ticket changed meanwhile (a timer fired, another replica)
        is decided again on its own, as `apply` would."""
        for part in one_per_ticket(events):
            loaded = await self.store.read_many([event.ticket_id for event in part])
            decided = [
                (event, outcome, found)
                for event, found in zip(part, loaded, strict=True)
                if (outcome := on_event(found.state, event, self.book)) is not None
            ]
            committed = await self.store.commit_many(
                [(outcome, found) for _, outcome, found in decided], claimed=False
            )
            emitted: list[Event] = []
            for (event, outcome, _), done in zip(decided, committed, strict=True):
                if done:
                    emitted += outcome.events
                elif again := await self.store.transact(event.ticket_id, self._deciding(event)):
                    emitted += again.events
            await self.publish(emitted)

    def _deciding(self, event: Event) -> Decide:
        return lambda state: on_event(state, event, self.book)

    # --- timers

    async def fire(self, ticket_id: str) -> None:
        """One claimed ticket on its own: decide, commit (retried on conflict), publish."""
        now = self.clock.now()

        def decide(state: TicketState | None) -> SlaDecision | None:
            return on_timer(state, now, self.book) if state is not None else None

        try:
            outcome = await self.store.transact(ticket_id, decide, claimed=True)
        except Exception as error:  # noqa: BLE001 - whatever failed, the claim must go back
            await self._give_back([ticket_id], now, error)
            return
        if outcome is None:  # a timer without a ticket: nothing to do, ever
            await self.forget(ticket_id)
            return
        self._committed(ticket_id, outcome)
        await self._announce(outcome.events)

    async def fire_many(self, ticket_ids: list[str]) -> None:
        """Claimed tickets in one go: one read, one round of commits, one burst of
        publishes. A ticket that changed meanwhile is decided again on its own."""
        now = self.clock.now()
        try:
            loaded = await self.store.read_many(ticket_ids)
            missing = [t for t, found in zip(ticket_ids, loaded, strict=True) if found.raw is None]
            decided = [
                (ticket_id, on_timer(state, now, self.book), found)
                for ticket_id, found in zip(ticket_ids, loaded, strict=True)
                if (state := found.state) is not None
            ]
            committed = await self.store.commit_many(
                [(outcome, found) for _, outcome, found in decided], claimed=True
            )
        except Exception as error:  # noqa: BLE001 - whatever failed, the claims must go back
            await self._give_back(ticket_ids, now, error)
            return
        for ticket_id in missing:
            await self.forget(ticket_id)
        done = [(t, outcome) for (t, outcome, _), ok in zip(decided, committed, strict=True) if ok]
        for ticket_id, outcome in done:
            self._committed(ticket_id, outcome)
        await self._announce([event for _, outcome in done for event in outcome.events])
        for (ticket_id, _, _), ok in zip(decided, committed, strict=True):
            if not ok:
                await self.fire(ticket_id)

    async def _announce(self, events: list[Event]) -> None:
        """Publish committed events; should that fail (NATS away, the stream missing),
        they stay in the outbox and the relay sends them: the claim is not given back,
        the commit already set the ticket's next timer."""
        try:
            await self.publish(events)
        except Exception as error:  # noqa: BLE001 - the outbox holds them; log and go on
            reraise_cancellation(error)
            self.counters.publish_failures += 1
            log.warning("sla_publish_failed", events=len(events), error=repr(error))

    async def _give_back(self, ticket_ids: list[str], now: datetime, error: Exception) -> None:
        # Nothing was committed (Redis away, or a conflict that would not settle). The
        # claims go back with a short delay; should even that fail, their leases run out
        # and the next claim retries them.
        reraise_cancellation(error)
        self.counters.commit_failures += 1
        log.warning("sla_fire_failed", tickets=len(ticket_ids), error=repr(error))
        retry_at = now + timedelta(seconds=self.settings.sla_retry_seconds)
        with contextlib.suppress(RedisError, OSError):
            await self.timers.release(ticket_ids, retry_at)

    def _committed(self, ticket_id: str, outcome: SlaDecision) -> None:
        self.counters.fired += 1
        escalations = [fact for fact in outcome.recorded if isinstance(fact, Escalated)]
        self.counters.escalations += len(escalations)
        self.counters.escalated_tickets += [ticket_id] * len(escalations)
        for fact in escalations:
            log.info(
                "sla_escalated",
                ticket_id=ticket_id,
                clock=fact.clock,
                from_level=fact.from_level,
                to_level=fact.to_level,
            )

    async def forget(self, ticket_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(keys.TIMERS, ticket_id)
            pipe.zrem(keys.CLAIMS, ticket_id)
            pipe.srem(keys.OPEN, ticket_id)
            await pipe.execute()

    async def tick(self) -> int:
        """One round: claim what is due and fire it. Returns how many were claimed."""
        if not self.nats.is_connected:
            # Claiming now would only queue what cannot be published; after the reconnect
            # the breach is decided, and published, with its real lateness.
            return 0
        claimed = await self.timers.claim(
            self.clock.now(),
            real_now=time.time(),
            lease_seconds=self.settings.sla_lease_seconds,
            limit=self.settings.sla_claim_batch,
        )
        size = self.settings.sla_fire_chunk
        gate = asyncio.Semaphore(self.settings.sla_fire_concurrency)

        async def fire_chunk(chunk: list[str]) -> None:
            async with gate:
                await self.fire_many(chunk)

        chunks = [claimed[start : start + size] for start in range(0, len(claimed), size)]
        await asyncio.gather(*(fire_chunk(chunk) for chunk in chunks))
        return len(claimed)

    async def timer_round(self) -> bool:
        """One round of the timer loop (chuishao.common.loops): True when it claimed a
        full batch, so that more may be due at once."""
        return await self.tick() >= self.settings.sla_claim_batch


def reraise_cancellation(error: Exception) -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error
