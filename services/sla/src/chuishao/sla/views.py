"""Answers to the sla queries: every deadline of one ticket; overdue tickets of a unit,
a street, or everyone."""

from datetime import datetime

from redis.asyncio import Redis

from chuishao.common.queries import (
    OverdueQuery,
    OverdueTicket,
    OverdueTickets,
    TicketDeadlines,
    TicketDeadlinesQuery,
)
from chuishao.sla import keys
from chuishao.sla.policies import PolicyBook
from chuishao.sla.replay import replay
from chuishao.sla.store import SlaStateStore


async def ticket_deadlines(
    query: TicketDeadlinesQuery, store: SlaStateStore, book: PolicyBook, now: datetime
) -> TicketDeadlines:
    state = await store.load(query.ticket_id)
    if state is None:
        return TicketDeadlines(ticket_id=query.ticket_id, known=False, as_of=now)
    ticket = replay(state.ticket_id, state.facts, book)
    clocks = sorted(ticket.clocks.values(), key=lambda c: (c.cycle, c.started_at, c.key))
    return TicketDeadlines(
        ticket_id=query.ticket_id,
        known=True,
        as_of=now,
        level=ticket.level,
        street=ticket.street,
        paused=ticket.paused_since is not None,
        clocks=[clock.view(now) for clock in clocks],
    )


async def overdue(
    query: OverdueQuery, redis: Redis, store: SlaStateStore, book: PolicyBook, now: datetime
) -> OverdueTickets:
    if query.unit_id:
        index = keys.unit_deadlines(query.unit_id)
    elif query.street:
        index = keys.street_deadlines(query.street)
    else:
        index = keys.DEADLINES_ALL
    found = await redis.zrangebyscore(index, "-inf", now.timestamp(), start=0, num=query.limit + 1)
    tickets = []
    for member in found[: query.limit]:
        ticket_id = member.decode() if isinstance(member, bytes) else str(member)
        state = await store.load(ticket_id)
        if state is None:
            continue
        ticket = replay(ticket_id, state.facts, book)
        late = [
            clock
            for clock in ticket.open_clocks()
            if (deadline := clock.deadline) is not None and deadline <= now
        ]
        if query.unit_id:
            late = [clock for clock in late if query.unit_id in ticket.answerable(clock)]
        if not late:
            continue
        since = min(clock.deadline for clock in late if clock.deadline)
        tickets.append(
            OverdueTicket(
                ticket_id=ticket_id,
                level=ticket.level,
                street=ticket.street,
                units=tuple(sorted({u for clock in late for u in ticket.answerable(clock)})),
                overdue_since=since,
                overdue_seconds=round((now - since).total_seconds()),
                clocks=[clock.view(now) for clock in late],
            )
        )
    return OverdueTickets(
        as_of=now,
        unit_id=query.unit_id,
        street=query.street,
        tickets=tickets,
        truncated=len(found) > query.limit,
    )
