"""The sla service's work: apply lifecycle events, fire due timers, sweep for drift.
FastStream only feeds it events; tests and the benchmark drive it directly."""

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from nats.aio.client import Client
from redis.asyncio import Redis
from redis.exceptions import RedisError

from chuishao.common import subjects
from chuishao.common.clock import Clock
from chuishao.common.events import Event
from chuishao.common.publishing import encode, event_headers
from chuishao.sla import keys
from chuishao.sla.decisions import Outcome, TicketState, on_event, on_timer, refresh
from chuishao.sla.facts import Escalated
from chuishao.sla.policies import PolicyBook
from chuishao.sla.settings import SlaSettings
from chuishao.sla.store import TicketStore, deadline_index
from chuishao.sla.timers import TimerStore

log = structlog.get_logger()


@dataclass
class Counters:
    """What this replica did; tests compare replicas with them."""

    fired: int = 0
    escalations: int = 0
    publish_failures: int = 0
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
        self.store = TicketStore(redis)
        self.timers = TimerStore(redis)
        self.counters = Counters()
        self.js = nats.jetstream()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask the loops to end. A flag, not only a cancel: some client libraries turn a
        cancellation inside a request into their own timeout error, which would swallow it."""
        self._stopping.set()

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def publish(self, events: list[Event]) -> None:
        """All of a decision's events, pipelined: sent in order on one connection (so
        stored in order), the acknowledgements awaited together."""
        pending = [
            await self.js.publish_async(
                subjects.for_event(event), encode(event), headers=event_headers(event)
            )
            for event in events
        ]
        try:
            await asyncio.wait_for(
                asyncio.gather(*pending), timeout=self.settings.sla_publish_timeout_seconds
            )
        finally:
            for future in pending:
                future.cancel()  # no-op when done; frees the slot of one that never will be

    # --- lifecycle events

    async def apply(self, event: Event) -> None:
        await self.store.transact(
            event.ticket_id, lambda state: on_event(state, event, self.book), self.publish
        )

    # --- timers

    async def fire(self, ticket_id: str) -> None:
        now = self.clock.now()

        def decide(state: TicketState | None) -> Outcome | None:
            return on_timer(state, now, self.book) if state is not None else None

        try:
            outcome = await self.store.transact(ticket_id, decide, self.publish, claimed=True)
        except Exception as error:  # noqa: BLE001 - whatever failed, the claim must go back
            _reraise_cancellation(error)
            # Typically NATS is away. The claim goes back with a short delay; should even
            # that fail, the lease runs out and the next claim retries.
            self.counters.publish_failures += 1
            log.warning("sla_fire_failed", ticket_id=ticket_id, error=repr(error))
            retry_at = now + timedelta(seconds=self.settings.sla_retry_seconds)
            with contextlib.suppress(RedisError, OSError):
                await self.timers.release(ticket_id, retry_at)
            return
        self.counters.fired += 1
        if outcome is None:  # a timer without a ticket: nothing to do, ever
            await self._forget(ticket_id)
            return
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

    async def _forget(self, ticket_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(keys.TIMERS, ticket_id)
            pipe.zrem(keys.CLAIMS, ticket_id)
            pipe.srem(keys.OPEN, ticket_id)
            await pipe.execute()

    async def tick(self) -> int:
        """One round: claim what is due and fire it. Returns how many were claimed."""
        if not self.nats.is_connected:
            # Claiming now would only fail to publish; after the reconnect the breach is
            # published with its real lateness.
            return 0
        claimed = await self.timers.claim(
            self.clock.now(),
            real_now=time.time(),
            lease_seconds=self.settings.sla_lease_seconds,
            limit=self.settings.sla_claim_batch,
        )
        gate = asyncio.Semaphore(self.settings.sla_fire_concurrency)

        async def fire_one(ticket_id: str) -> None:
            async with gate:
                await self.fire(ticket_id)

        await asyncio.gather(*(fire_one(ticket_id) for ticket_id in claimed))
        return len(claimed)

    async def run_timers(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = await self.tick()
            except (RedisError, OSError) as error:
                log.warning("sla_timer_round_failed", error=repr(error))
                claimed = 0
            if claimed < self.settings.sla_claim_batch:
                await self._idle(self.settings.sla_tick_seconds)

    # --- reconciliation

    async def sweep(self) -> int:
        """Re-derive every open ticket and repair its timer, indexes and announcements
        where they disagree. Returns how many tickets were repaired."""
        locked = await self.redis.set(
            keys.SWEEP_LOCK, "1", nx=True, ex=max(int(self.settings.sla_sweep_interval_seconds), 1)
        )
        if not locked:
            return 0  # another replica is sweeping
        repaired = 0
        try:
            seen: set[str] = set()
            async for member in self.redis.sscan_iter(keys.OPEN, count=500):
                seen.add(_text(member))
                repaired += await self._reconcile(_text(member))
            async for member, _score in self.redis.zscan_iter(keys.TIMERS, count=500):
                if _text(member) not in seen:
                    repaired += await self._reconcile(_text(member))
        finally:
            await self.redis.delete(keys.SWEEP_LOCK)
        self.counters.repaired += repaired
        if repaired:
            log.warning("sla_sweep_repaired", tickets=repaired)
        return repaired

    async def _reconcile(self, ticket_id: str) -> int:
        if await self.timers.claimed(ticket_id):
            return 0  # being fired right now; the lease covers it
        state = await self.store.load(ticket_id)
        if state is None:
            await self._forget(ticket_id)
            return 1
        outcome = refresh(state, self.book)
        expected = outcome.next_due
        actual = await self.timers.due_at(ticket_id)
        timer_ok = (expected is None and actual is None) or (
            expected is not None
            and actual is not None
            and abs(expected.timestamp() - actual) < 1e-3
        )
        index_ok = sorted(deadline_index(outcome.ticket)) == state.indexed
        if timer_ok and index_ok and not outcome.events:
            return 0
        log.warning(
            "sla_clock_repaired",
            ticket_id=ticket_id,
            timer_expected=expected.isoformat() if expected else None,
            timer_found=actual,
            reannounced=len(outcome.events),
        )
        await self.store.transact(
            ticket_id, lambda fresh: refresh(fresh, self.book) if fresh else None, self.publish
        )
        return 1

    async def run_sweeps(self) -> None:
        while not self._stopping.is_set():
            await self._idle(self.settings.sla_sweep_interval_seconds)
            if self._stopping.is_set():
                return
            try:
                await self.sweep()
            except Exception as error:  # noqa: BLE001 - the next sweep tries again
                _reraise_cancellation(error)
                log.warning("sla_sweep_failed", error=repr(error))


def _reraise_cancellation(error: Exception) -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else member
