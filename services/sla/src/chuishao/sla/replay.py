"""A ticket's clocks, derived from its facts in time order. The rules are in docs/sla.md;
each `_on_*` method below is one of them."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from chuishao.common.domain import ClockKind, Level, Priority, Role
from chuishao.sla.clocks import SlaClock, clock_key
from chuishao.sla.facts import (
    Acknowledged,
    AwaitingResident,
    Breached,
    Closed,
    Declined,
    Dispatched,
    Escalated,
    Extended,
    Fact,
    ManualQueued,
    Recategorised,
    Reopened,
    ResidentReplied,
    Resolved,
    Responded,
    Transferred,
    Warned,
)
from chuishao.sla.policies import LADDER_ORDER, PolicyBook, SlaPolicy


@dataclass
class UnitOnTicket:
    level: Level
    role: Role
    active: bool = True
    acknowledged_cycle: int | None = None


@dataclass
class TicketClocks:
    ticket_id: str
    book: PolicyBook
    category: str | None = None
    priority: Priority = Priority.NORMAL
    level: Level | None = None
    first_level: Level | None = None
    street: str | None = None
    cycle: int = 0
    paused_since: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    responded: bool = False
    units: dict[str, UnitOnTicket] = field(default_factory=dict)
    clocks: dict[str, SlaClock] = field(default_factory=dict)
    escalations: set[tuple[ClockKind, Level, int]] = field(default_factory=set)
    # Levels whose own command centre is on the ticket: summoned by an escalation, or
    # holding it in its manual-dispatch queue (centre_first does not summon it again).
    centres: set[Level] = field(default_factory=set)

    # --- reading

    def policy(self, level: Level) -> SlaPolicy:
        return self.book.policy(self.category, self.priority, level)

    def open_clocks(self) -> Iterator[SlaClock]:
        return (clock for clock in self.clocks.values() if clock.is_open)

    def next_due(self) -> datetime | None:
        moments = [due for clock in self.clocks.values() if (due := clock.next_due)]
        return min(moments) if moments else None

    def answerable(self, clock: SlaClock) -> tuple[str, ...]:
        """Units that answer for a clock: its own unit, or the active units of its level."""
        if clock.unit_id is not None:
            return (clock.unit_id,)
        return tuple(
            sorted(
                unit_id
                for unit_id, unit in self.units.items()
                if unit.active and unit.level == clock.level
            )
        )

    # --- building

    def _arm(
        self, kind: ClockKind, level: Level, unit_id: str | None, at: datetime, cause: str
    ) -> None:
        if self.closed_at is not None or self.resolved_at is not None:
            return
        key = clock_key(kind, level, unit_id, self.cycle)
        existing = self.clocks.get(key)
        # A dispatch clock stopped by a dispatch runs again if the ticket is queued again.
        if existing is not None and existing.stop_reason not in ("not_required", "dispatched"):
            return
        policy = self.policy(level)
        limit = policy.limit_seconds(kind)
        if limit is None:
            return
        self.clocks[key] = SlaClock(
            kind=kind,
            level=level,
            unit_id=unit_id,
            cycle=self.cycle,
            calendar=policy.calendar,
            limit_seconds=limit,
            warning_fraction=policy.warning_fraction,
            started_at=at,
            cause_id=cause,
            running_since=None if self.paused_since else at,
            paused_since=self.paused_since and at,
        )

    def _stop(
        self, at: datetime, reason: str, kind: ClockKind | None = None, unit_id: str | None = None
    ) -> None:
        for clock in self.open_clocks():
            if (kind is None or clock.kind == kind) and (
                unit_id is None or clock.unit_id == unit_id
            ):
                clock.stop(at, reason)

    def _arm_report_for_duty(self, unit_id: str, at: datetime, cause: str) -> None:
        unit = self.units[unit_id]
        if unit.active and unit.acknowledged_cycle != self.cycle:
            self._arm(ClockKind.REPORT_FOR_DUTY, unit.level, unit_id, at, cause)

    def _arm_first_response(self, at: datetime, cause: str) -> None:
        """One first-response clock per ticket: at the first level, before any response."""
        if self.first_level is not None and self.cycle == 0 and not self.responded:
            self._arm(ClockKind.FIRST_RESPONSE, self.first_level, None, at, cause)

    def _has(self, kind: ClockKind, cycle: int) -> bool:
        return any(c.kind == kind and c.cycle == cycle for c in self.clocks.values())

    def apply(self, fact: Fact) -> None:
        match fact:
            case ManualQueued():
                self._on_manual_queued(fact)
            case Dispatched():
                self._on_dispatched(fact)
            case Acknowledged():
                unit = self.units.get(fact.unit_id)
                if unit is not None:
                    unit.acknowledged_cycle = self.cycle
                else:  # the acknowledgement outran its dispatch: remember it
                    self.units[fact.unit_id] = UnitOnTicket(
                        self.level or Level.COMMUNITY, Role.CO, acknowledged_cycle=self.cycle
                    )
                self._stop(fact.at, "acknowledged", ClockKind.REPORT_FOR_DUTY, fact.unit_id)
            case Declined():
                self._stop(fact.at, "declined", ClockKind.REPORT_FOR_DUTY, fact.unit_id)
                if fact.unit_id in self.units:
                    self.units[fact.unit_id].active = False
            case Transferred():
                self._on_transferred(fact)
            case Responded():
                self.responded = True
                self._stop(fact.at, "responded", ClockKind.FIRST_RESPONSE)
            case AwaitingResident():
                self.responded = True
                self._stop(fact.at, "responded", ClockKind.FIRST_RESPONSE)
                if self.paused_since is None:
                    self.paused_since = fact.at
                    for clock in self.open_clocks():
                        clock.pause(fact.at)
            case ResidentReplied():
                self.paused_since = None
                for clock in self.open_clocks():
                    clock.resume(fact.at)
            case Extended():
                for clock in self.open_clocks():
                    if clock.kind == ClockKind.RESOLUTION and clock.breached_at is None:
                        clock.extension_seconds += fact.extra_seconds
            case Recategorised():
                self._on_recategorised(fact)
            case Resolved():
                self._stop(fact.at, "resolved")
                self.resolved_at = fact.at
            case Reopened():
                self.cycle = max(self.cycle, fact.cycle)
                self.resolved_at = None
                if self.level is not None:
                    self._arm(ClockKind.RESOLUTION, self.level, None, fact.at, fact.event_id)
            case Closed():
                self._stop(fact.at, "closed")
                self.closed_at = fact.at
            case Warned():
                if (warned := self.clocks.get(fact.clock_key)) is not None:
                    warned.warned_at = warned.warned_at or fact.at
            case Breached():
                breached = self.clocks.get(fact.clock_key)
                if breached is not None and breached.is_pending:
                    breached.breach_deadline = breached.deadline
                    breached.breached_at = fact.at
            case Escalated():
                self.centres.add(fact.to_level)
                if fact.to_level == fact.from_level:
                    return  # its own centre summoned (centre_first): the ladder climbs next
                self.escalations.add((fact.clock, fact.from_level, fact.cycle))
                if self.level is None or LADDER_ORDER.index(fact.to_level) > LADDER_ORDER.index(
                    self.level
                ):
                    self.level = fact.to_level
                # Still waiting for a hand dispatch: the next level's queue gets its own clock.
                waiting = fact.clock == ClockKind.MANUAL_DISPATCH and self.first_level is None
                kind = ClockKind.MANUAL_DISPATCH if waiting else ClockKind.RESOLUTION
                self._arm(kind, fact.to_level, None, fact.at, fact.event_id)

    def _on_manual_queued(self, fact: ManualQueued) -> None:
        """No rule placed it: the arbiter's dispatch clock runs until a dispatch."""
        self.street = self.street or fact.street
        self.centres.add(fact.level)
        if self.first_level is None:  # never dispatched: the queue sets the ticket's level
            self.category = fact.category or self.category
            self.priority = fact.priority
            if self.level is None or _rank(fact.level) > _rank(self.level):
                self.level = fact.level
        self._arm(ClockKind.MANUAL_DISPATCH, fact.level, None, fact.at, fact.event_id)

    def _on_dispatched(self, fact: Dispatched) -> None:
        self._stop(fact.at, "dispatched", ClockKind.MANUAL_DISPATCH)
        if fact.role == Role.SUPERVISOR:
            self.centres.add(fact.level)
        if self.category is None or self.first_level is None:
            self.category, self.priority = fact.category, fact.priority
        self.street = self.street or fact.street
        if self.first_level is None:
            self.first_level = fact.level
            # Escalated while it waited in a queue: it stays at the level it reached.
            if self.level is None or not self.escalations or _rank(fact.level) > _rank(self.level):
                self.level = fact.level
        previous = self.units.get(fact.unit_id)
        self.units[fact.unit_id] = UnitOnTicket(
            fact.level,
            fact.role,
            acknowledged_cycle=previous.acknowledged_cycle if previous else None,
        )
        if not self._has(ClockKind.RESOLUTION, self.cycle):
            level = self.level or fact.level
            self._arm(ClockKind.RESOLUTION, level, None, fact.at, fact.event_id)
        self._arm_first_response(fact.at, fact.event_id)
        self._arm_report_for_duty(fact.unit_id, fact.at, fact.event_id)

    def _on_transferred(self, fact: Transferred) -> None:
        self._stop(fact.at, "transferred", ClockKind.REPORT_FOR_DUTY, fact.from_unit_id)
        source = self.units.get(fact.from_unit_id)
        if source is not None:
            source.active = False
        self.units[fact.to_unit_id] = UnitOnTicket(
            source.level if source else self.level or Level.COMMUNITY,
            source.role if source else Role.LEAD,
        )
        self._arm_report_for_duty(fact.to_unit_id, fact.at, fact.event_id)

    def _on_recategorised(self, fact: Recategorised) -> None:
        self.category, self.priority = fact.category, fact.priority
        for clock in list(self.open_clocks()):
            policy = self.policy(clock.level)
            limit = policy.limit_seconds(clock.kind)
            if limit is None:
                clock.stop(fact.at, "not_required")
                continue
            # Book the time used so far in the old calendar, then count on in the new one:
            # elapsed and paused time carry over, only the limit changes.
            clock.settle(fact.at)
            clock.calendar = policy.calendar
            clock.limit_seconds = limit
            clock.warning_fraction = policy.warning_fraction
        # Clocks the new policy asks for and the old one did not start now.
        self._arm_first_response(fact.at, fact.event_id)
        for unit_id in self.units:
            self._arm_report_for_duty(unit_id, fact.at, fact.event_id)


def _rank(level: Level) -> int:
    return LADDER_ORDER.index(level)


def replay(ticket_id: str, facts: Iterable[Fact], book: PolicyBook) -> TicketClocks:
    ticket = TicketClocks(ticket_id, book)
    # Event time decides, not arrival: arrival order only breaks ties.
    for _, fact in sorted(enumerate(facts), key=lambda pair: (pair[1].at, pair[0])):
        ticket.apply(fact)
    return ticket
