"""What sla decides, as pure functions of a ticket's facts and the time: the facts to
record, the events to publish, when to look again. Nothing here does I/O."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from chuishao.common.domain import Level
from chuishao.common.events import (
    Event,
    SlaBreached,
    SlaClockArmed,
    SlaWarning,
    TicketEscalated,
)
from chuishao.common.ids import derived_id
from chuishao.common.packing import PackedValue, Packing, registered
from chuishao.sla.clocks import SlaClock
from chuishao.sla.facts import Breached, Escalated, Fact, Warned, fact_from
from chuishao.sla.policies import PolicyBook
from chuishao.sla.replay import TicketClocks, replay

PRODUCER = "sla"
E = TypeVar("E", bound=Event)

# Frozen: states are packed with it (a new dictionary is a new version beside it,
# scripts/packing_dictionaries.py).
PACKING = registered(
    Packing(
        "sla state",
        Path(__file__).parent / "data" / "packing",
        {1: "c93f6f8279cbe8f34ba6d4c8407adcdb7b0e0e78d0504ac3a3ced6f08cec0803"},
    )
)


class TicketState(BaseModel, PackedValue):
    """All sla stores about a ticket (Redis key sla:ticket:<id>)."""

    packing: ClassVar[Packing] = PACKING

    ticket_id: str
    correlation_id: str
    facts: list[Fact] = []
    # The deadline last announced (SlaClockArmed) per clock, so a changed one is re-announced.
    announced: dict[str, str] = {}
    # The overdue index keys this ticket currently sits in, so stale entries can be removed.
    indexed: list[str] = []

    def has(self, event_id: str) -> bool:
        return any(fact.event_id == event_id for fact in self.facts)

    def stored_json(self) -> str:
        """In full: a fact's `type`, which tells its kind, is a default."""
        return self.model_dump_json()


@dataclass(frozen=True)
class SlaDecision:
    """What sla decided for one ticket: its new state and clocks, the events to publish
    and the facts recorded."""

    state: TicketState
    ticket: TicketClocks
    events: list[Event]
    recorded: list[Fact]

    @property
    def next_due(self) -> datetime | None:
        return self.ticket.next_due()


def on_event(state: TicketState | None, event: Event, book: PolicyBook) -> SlaDecision | None:
    """None: the event moves no clock, or was applied before."""
    fact = fact_from(event)
    if fact is None or (state is not None and state.has(fact.event_id)):
        return None
    state = state or TicketState(ticket_id=event.ticket_id, correlation_id=event.correlation_id)
    return settle(state.model_copy(update={"facts": [*state.facts, fact]}), book, [], [fact])


def on_timer(state: TicketState, now: datetime, book: PolicyBook) -> SlaDecision:
    """Warnings and breaches that are due at `now`; each breach at the ticket's current
    level escalates it one level, so one firing escalates at most once per level."""
    ticket = replay(state.ticket_id, state.facts, book)
    facts: list[Fact] = []
    events: list[Event] = []
    level = ticket.level
    # Levels whose centre this firing already summoned: the other report-ins missed at the
    # same moment do not climb past it in the same breath.
    summoned: set[Level] = set()
    pending = [clock for clock in ticket.clocks.values() if clock.is_pending and clock.deadline]
    for clock in sorted(pending, key=lambda c: c.deadline or now):
        deadline = clock.deadline
        assert deadline is not None
        if deadline <= now:
            breach_facts, breach_events = _breach(
                state, ticket, clock, deadline, now, level, summoned
            )
            facts += breach_facts
            events += breach_events
            level = next((f.to_level for f in breach_facts if isinstance(f, Escalated)), level)
        elif (warn_at := clock.warning_at) is not None and warn_at <= now:
            warned, warning = _warning(state, clock, deadline, now)
            facts.append(warned)
            events.append(warning)
    return settle(state.model_copy(update={"facts": [*state.facts, *facts]}), book, events, facts)


def refresh(state: TicketState, book: PolicyBook) -> SlaDecision:
    """Re-derive with the current policies (the reconciliation sweep)."""
    return settle(state, book, [], [])


def _warning(
    state: TicketState, clock: SlaClock, deadline: datetime, now: datetime
) -> tuple[Warned, SlaWarning]:
    """The warning of a clock past its warning point: the fact recorded, the event sent."""
    warned = Warned(
        event_id=derived_id(state.ticket_id, "SlaWarning", clock.key), at=now, clock_key=clock.key
    )
    remaining = round(clock.budget - clock.elapsed(now))
    warning = _about_clock(
        SlaWarning, state, clock, warned.event_id, now, deadline, remaining_seconds=remaining
    )
    return warned, warning


def _breach(
    state: TicketState,
    ticket: TicketClocks,
    clock: SlaClock,
    deadline: datetime,
    now: datetime,
    level: Level | None,
    summoned: set[Level],
) -> tuple[list[Fact], list[Event]]:
    # The real lateness: from the deadline to this moment, however long sla, NATS or
    # Redis were away in between.
    overdue = max(round((now - deadline).total_seconds()), 0)
    breached = Breached(
        event_id=derived_id(state.ticket_id, "SlaBreached", clock.key),
        at=now,
        clock_key=clock.key,
        overdue_seconds=overdue,
    )
    facts: list[Fact] = [breached]
    events: list[Event] = [
        _about_clock(
            SlaBreached, state, clock, breached.event_id, now, deadline, overdue_seconds=overdue
        )
    ]
    if clock.level in summoned:
        return facts, events
    policy = ticket.policy(clock.level)
    # centre_first: a missed report-in at the street summons the street's own command
    # centre (street → street) before the district, once per (ticket, level, cycle).
    centre_first = (
        clock.kind in policy.centre_first
        and clock.level != Level.COMMUNITY
        and clock.level not in ticket.centres
    )
    up = clock.level if centre_first else policy.next_level(clock.level)
    already = (clock.kind, clock.level, clock.cycle) in ticket.escalations
    if up is None or already or clock.level != level:
        return facts, events
    summoned.add(clock.level)
    escalated = Escalated(
        # One escalation per (ticket, clock, level, cycle): the id says so, and JetStream's
        # de-duplication drops a repeat even if two replicas got this far.
        event_id=derived_id(
            state.ticket_id,
            "TicketEscalated",
            clock.kind,
            clock.level,
            str(clock.cycle),
            *(("centre",) if centre_first else ()),
        ),
        at=now,
        clock=clock.kind,
        from_level=clock.level,
        to_level=up,
        cycle=clock.cycle,
    )
    facts.append(escalated)
    events.append(
        _event(
            TicketEscalated,
            state,
            escalated.event_id,
            now,
            breached.event_id,
            clock=clock.kind,
            from_level=clock.level,
            to_level=up,
            overdue_seconds=overdue,
        )
    )
    return facts, events


def settle(
    state: TicketState, book: PolicyBook, events: list[Event], recorded: list[Fact]
) -> SlaDecision:
    """Replay, and announce every clock whose deadline is new."""
    ticket = replay(state.ticket_id, state.facts, book)
    announced: dict[str, str] = {}
    announcements: list[Event] = []
    for clock in ticket.clocks.values():
        if not clock.is_pending:
            continue
        deadline = clock.deadline
        if deadline is None or clock.running_since is None:  # paused: keep what was said
            if clock.key in state.announced:
                announced[clock.key] = state.announced[clock.key]
            continue
        stamp = deadline.isoformat()
        announced[clock.key] = stamp
        if state.announced.get(clock.key) == stamp:
            continue
        announcements.append(
            _about_clock(
                SlaClockArmed,
                state,
                clock,
                derived_id(state.ticket_id, "SlaClockArmed", clock.key, stamp),
                clock.running_since,
                deadline,
                limit_seconds=max(round(clock.budget), 1),
            )
        )
    state = state.model_copy(update={"announced": announced})
    return SlaDecision(state, ticket, [*events, *announcements], recorded)


def _about_clock(
    kind: type[E],
    state: TicketState,
    clock: SlaClock,
    event_id: str,
    at: datetime,
    deadline: datetime,
    **fields: Any,
) -> E:
    """An event about one clock (armed, warning, breach): each names the clock, its level
    and unit and its deadline the same way, caused by the event that started the clock."""
    return _event(
        kind,
        state,
        event_id,
        at,
        clock.cause_id,
        clock=clock.kind,
        level=clock.level,
        unit_id=clock.unit_id,
        deadline=deadline,
        **fields,
    )


def _event(
    kind: type[E], state: TicketState, event_id: str, at: datetime, cause: str | None, **fields: Any
) -> E:
    return kind(
        event_id=event_id,
        occurred_at=at,
        ticket_id=state.ticket_id,
        correlation_id=state.correlation_id,
        causation_id=cause,
        producer=PRODUCER,
        **fields,
    )
