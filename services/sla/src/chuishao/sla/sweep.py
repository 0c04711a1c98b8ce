"""The reconciliation sweep: re-derive every open ticket's clocks from its facts with
the current policies and repair what disagrees (a missing or wrong timer, a timer no
clock needs, stale overdue-index entries, deadlines moved by a new policy file).

Its cost grows with the number of open tickets (one replay each, reads batched 500 at
a time); one replica sweeps at a time (a Redis lock)."""

from collections.abc import AsyncIterator

import structlog

from chuishao.sla import keys
from chuishao.sla.decisions import TicketState, refresh
from chuishao.sla.store import deadline_index
from chuishao.sla.supervisor import Supervisor

log = structlog.get_logger()
BATCH = 500


async def sweep(supervisor: Supervisor) -> int:
    """Returns how many tickets were repaired."""
    redis = supervisor.redis
    lock_seconds = max(int(supervisor.settings.sla_sweep_interval_seconds), 60)
    if not await redis.set(keys.SWEEP_LOCK, "1", nx=True, ex=lock_seconds):
        return 0  # another replica is sweeping
    repaired = 0
    try:
        async for batch in _batches(redis.sscan_iter(keys.OPEN, count=BATCH)):
            repaired += await _reconcile(supervisor, batch)
        # Timers of tickets that are not open any more (or never had state).
        async for batch in _batches(member async for member, _ in redis.zscan_iter(keys.TIMERS)):
            known = await redis.smismember(keys.OPEN, batch)
            orphans = [ticket for ticket, is_open in zip(batch, known, strict=True) if not is_open]
            repaired += await _reconcile(supervisor, orphans)
    finally:
        await redis.delete(keys.SWEEP_LOCK)
    supervisor.counters.repaired += repaired
    if repaired:
        log.warning("sla_sweep_repaired", tickets=repaired)
    return repaired


async def _batches(members: AsyncIterator[bytes | str]) -> AsyncIterator[list[str]]:
    batch: list[str] = []
    async for member in members:
        batch.append(member.decode() if isinstance(member, bytes) else member)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def _reconcile(supervisor: Supervisor, ticket_ids: list[str]) -> int:
    if not ticket_ids:
        return 0
    async with supervisor.redis.pipeline(transaction=False) as pipe:
        for ticket_id in ticket_ids:
            pipe.zscore(keys.CLAIMS, ticket_id)
            pipe.zscore(keys.TIMERS, ticket_id)
            pipe.get(keys.ticket(ticket_id))
        rows = await pipe.execute()
    repaired = 0
    for n, ticket_id in enumerate(ticket_ids):
        claimed, timer, raw = rows[3 * n : 3 * n + 3]
        if claimed is not None:
            continue  # being fired right now; its lease covers it
        if raw is None:
            await supervisor.forget(ticket_id)
            repaired += 1
        elif not _agrees(supervisor, TicketState.from_stored(raw), timer):
            await supervisor.transact(
                ticket_id, lambda fresh: refresh(fresh, supervisor.book) if fresh else None
            )
            repaired += 1
    return repaired


def _agrees(supervisor: Supervisor, state: TicketState, timer: float | None) -> bool:
    outcome = refresh(state, supervisor.book)
    expected = outcome.next_due
    if expected is None or timer is None:
        timer_ok = expected is None and timer is None
    else:
        timer_ok = abs(expected.timestamp() - timer) < 1e-3
    index_ok = sorted(deadline_index(outcome.ticket)) == state.indexed
    if timer_ok and index_ok and not outcome.events:
        return True
    log.warning(
        "sla_clock_repaired",
        ticket_id=state.ticket_id,
        timer_expected=expected.isoformat() if expected else None,
        timer_found=timer,
        reannounced=len(outcome.events),
    )
    return False
