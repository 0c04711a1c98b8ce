"""sla's ticket states rebuilt from TICKETS when Redis forgot them.

A state is the list of a ticket's facts, and every fact is an event in TICKETS: the
lifecycle events the sla consumer reads, and sla's own decisions (SlaWarning,
SlaBreached, TicketEscalated, with the facts' own ids). A Redis that loses its last
writes (appendfsync everysec, a restored snapshot) used to lose the clocks of every
ticket dispatched since: nothing ever escalated them. So, as intake does with its
records (chuishao.intake.rebuild): Redis keeps a watermark, the TICKETS sequence up to
which the states reflect every event, rolled back together with them; at start-up and
every few seconds sla checks the events after it against the states, rebuilds the
tickets that lack a fact from their own subjects, and moves the watermark by
compare-and-set. A rebuilt state is committed like any decision (timers, open set,
overdue indexes), and keeps the decisions already made: nothing escalates twice.
"""

from collections.abc import Iterable

import structlog
from pydantic import ValidationError
from redis.exceptions import WatchError

from chuishao.common import stream_reader, subjects
from chuishao.common.events import (
    Event,
    SlaBreached,
    SlaClockArmed,
    SlaWarning,
    TicketEscalated,
    parse_event,
)
from chuishao.common.streams import SLA, TICKETS
from chuishao.sla.clocks import clock_key
from chuishao.sla.decisions import PRODUCER, SlaDecision, TicketState, settle
from chuishao.sla.facts import Breached, Escalated, Fact, Reopened, Warned, fact_from
from chuishao.sla.supervisor import Supervisor

WATERMARK = "sla:watermark"
STREAM = TICKETS.name or "TICKETS"
LIFECYCLE_KINDS = SLA.event_kinds
OWN = (SlaWarning, SlaBreached, TicketEscalated, SlaClockArmed)
MAX_FILTERS = 200
log = structlog.get_logger()


def takes(event: Event) -> bool:
    """What a state is made of: the consumer's kinds, and sla's own decisions."""
    return event.kind in LIFECYCLE_KINDS or (event.producer == PRODUCER and isinstance(event, OWN))


def state_from(events: Iterable[Event]) -> TicketState | None:
    """A ticket's state from its events in stream order (None: nothing sla keeps)."""
    facts: list[Fact] = []
    announced: dict[str, str] = {}
    first: Event | None = None
    cycle = 0
    for event in events:
        if not takes(event):
            continue
        first = first or event
        fact: Fact | None = None
        if event.kind in LIFECYCLE_KINDS:
            fact = fact_from(event)
            if isinstance(fact, Reopened):
                cycle = max(cycle, fact.cycle)
        match event:
            case SlaWarning():
                key = clock_key(event.clock, event.level, event.unit_id, cycle)
                fact = Warned(event_id=event.event_id, at=event.occurred_at, clock_key=key)
            case SlaBreached():
                key = clock_key(event.clock, event.level, event.unit_id, cycle)
                fact = Breached(
                    event_id=event.event_id,
                    at=event.occurred_at,
                    clock_key=key,
                    overdue_seconds=event.overdue_seconds,
                )
            case TicketEscalated() if event.producer == PRODUCER:
                fact = Escalated(
                    event_id=event.event_id,
                    at=event.occurred_at,
                    clock=event.clock,
                    from_level=event.from_level,
                    to_level=event.to_level,
                    cycle=cycle,
                )
            case SlaClockArmed():
                key = clock_key(event.clock, event.level, event.unit_id, cycle)
                announced[key] = event.deadline.isoformat()
        if fact is not None and all(f.event_id != fact.event_id for f in facts):
            facts.append(fact)
    if first is None or not facts:
        return None
    return TicketState(
        ticket_id=first.ticket_id,
        correlation_id=first.correlation_id,
        facts=facts,
        announced=announced,
    )


def _merged(rebuilt: TicketState, current: TicketState | None) -> TicketState | None:
    """The rebuilt facts plus any the current state has beyond them; None if the current
    state already holds every rebuilt fact."""
    if current is None:
        return rebuilt
    known = {f.event_id for f in current.facts}
    if all(f.event_id in known for f in rebuilt.facts):
        return None
    ids = {f.event_id for f in rebuilt.facts}
    return rebuilt.model_copy(
        update={
            "facts": [*rebuilt.facts, *(f for f in current.facts if f.event_id not in ids)],
            "announced": current.announced | rebuilt.announced,
            "indexed": current.indexed,
        }
    )


async def _suspects(supervisor: Supervisor, after: int, until: int) -> set[str]:
    """Tickets whose state lacks a fact the stream holds after `after`."""
    expected: dict[str, set[str]] = {}
    async for _, data in stream_reader.read(
        supervisor.js, STREAM, after, until, [subjects.TICKET_EVENTS]
    ):
        try:
            event = parse_event(data)
        except ValidationError:
            continue
        if not takes(event) or isinstance(event, SlaClockArmed):
            continue
        if event.kind in LIFECYCLE_KINDS and fact_from(event) is None:
            continue  # moves no clock: sla keeps nothing of it
        expected.setdefault(event.ticket_id, set()).add(event.event_id)
    wrong: set[str] = set()
    ticket_ids = sorted(expected)
    for start in range(0, len(ticket_ids), 500):
        batch = ticket_ids[start : start + 500]
        for ticket_id, loaded in zip(batch, await supervisor.store.read_many(batch), strict=True):
            state = loaded.state
            if state is None or any(not state.has(e) for e in expected[ticket_id]):
                wrong.add(ticket_id)
    return wrong


async def _events_of(
    supervisor: Supervisor, ticket_ids: set[str], until: int
) -> dict[str, list[Event]]:
    filters = (
        subjects.events_of_tickets(ticket_ids)
        if len(ticket_ids) <= MAX_FILTERS
        else [subjects.TICKET_EVENTS]
    )
    found: dict[str, list[Event]] = {t: [] for t in ticket_ids}
    async for _, data in stream_reader.read(supervisor.js, STREAM, 0, until, filters):
        try:
            event = parse_event(data)
        except ValidationError:
            continue
        if event.ticket_id in found:
            found[event.ticket_id].append(event)
    return found


async def _restore(supervisor: Supervisor, rebuilt: TicketState) -> bool:
    book = supervisor.book

    def decide(current: TicketState | None) -> SlaDecision | None:
        merged = _merged(rebuilt, current)
        return settle(merged, book, [], []) if merged is not None else None

    return await supervisor.transact(rebuilt.ticket_id, decide) is not None


async def check(supervisor: Supervisor, until: int) -> int:
    """Rebuild what Redis forgot since the watermark, up to `until`; returns how many
    tickets."""
    redis = supervisor.redis
    raw = await redis.get(WATERMARK)
    seen = int(raw) if raw else 0
    after = seen if seen <= until else 0  # past the stream's end: the stream is new
    if after >= until:
        return 0
    restored = 0
    wrong = await _suspects(supervisor, after, until)
    if wrong:
        for events in (await _events_of(supervisor, wrong, until)).values():
            state = state_from(events)
            if state is not None and await _restore(supervisor, state):
                restored += 1
        log.warning("sla_states_rebuilt", tickets=restored)
    if until > after:
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(WATERMARK)
                if await pipe.get(WATERMARK) == raw:  # else Redis went back, or a replica
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(WATERMARK, until)
                    await pipe.execute()
            except WatchError:
                pass
    return restored


async def check_once(supervisor: Supervisor) -> int:
    """Up to what the sla consumer has handled: what lies past it the consumer will fold
    (a missing state is no error to it: the first fact creates one)."""
    _, settled = await stream_reader.acknowledged_until(supervisor.js, STREAM, SLA.name)
    return await check(supervisor, settled)
