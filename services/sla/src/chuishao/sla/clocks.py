"""One clock: how much counted time it has used, whether it runs, and its deadline.

Time is counted in the policy's calendar. `consumed_seconds` holds what was used before
the current running stretch, so a pause, a change of calendar or of limit never loses
elapsed time: the deadline is always "the rest of the budget, counted from when it last
started running"."""

from dataclasses import dataclass
from datetime import datetime

from chuishao.common.domain import ClockKind, Level
from chuishao.common.queries import ClockDeadline, ClockState
from chuishao.sla.calendars import Calendar


def clock_key(kind: ClockKind, level: Level, unit_id: str | None, cycle: int) -> str:
    return f"{kind}|{level}|{unit_id or '-'}|{cycle}"


@dataclass
class SlaClock:
    """One SLA clock of a ticket (report-for-duty, response or resolution at a level),
    not a time source (that is chuishao.common.clock.Clock)."""

    kind: ClockKind
    level: Level
    unit_id: str | None
    cycle: int
    calendar: Calendar
    limit_seconds: float
    warning_fraction: float
    started_at: datetime
    cause_id: str
    extension_seconds: float = 0.0
    consumed_seconds: float = 0.0
    running_since: datetime | None = None
    paused_since: datetime | None = None
    paused_seconds: float = 0.0
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    breach_deadline: datetime | None = None

    @property
    def key(self) -> str:
        return clock_key(self.kind, self.level, self.unit_id, self.cycle)

    @property
    def budget(self) -> float:
        return self.limit_seconds + self.extension_seconds

    @property
    def is_open(self) -> bool:
        return self.stopped_at is None

    @property
    def is_pending(self) -> bool:
        """Open and not yet fired: still owes a warning or a breach."""
        return self.is_open and self.breached_at is None

    def elapsed(self, at: datetime) -> float:
        running = self.calendar.between(self.running_since, at) if self.running_since else 0.0
        return self.consumed_seconds + running

    def _when_used(self, seconds: float) -> datetime | None:
        if self.running_since is None:
            return None
        return self.calendar.add(self.running_since, seconds - self.consumed_seconds)

    @property
    def deadline(self) -> datetime | None:
        if self.breach_deadline is not None:
            return self.breach_deadline
        return self._when_used(self.budget)

    @property
    def warning_at(self) -> datetime | None:
        if self.warned_at is not None or not self.is_pending:
            return None
        return self._when_used(self.budget * self.warning_fraction)

    @property
    def next_due(self) -> datetime | None:
        """When a timer must next look at this clock."""
        if not self.is_pending:
            return None
        return self.warning_at or self.deadline

    def settle(self, at: datetime) -> None:
        """Book the running stretch up to `at` into consumed time."""
        if self.running_since is not None:
            self.consumed_seconds += self.calendar.between(self.running_since, at)
            self.running_since = at

    def pause(self, at: datetime) -> None:
        if self.is_open and self.running_since is not None:
            self.settle(at)
            self.running_since = None
            self.paused_since = at

    def resume(self, at: datetime) -> None:
        if self.is_open and self.paused_since is not None:
            self.paused_seconds += max((at - self.paused_since).total_seconds(), 0.0)
            self.paused_since = None
            self.running_since = at

    def stop(self, at: datetime, reason: str) -> None:
        if not self.is_open:
            return
        self.resume(at)
        self.settle(at)
        self.running_since = None
        self.stopped_at = at
        self.stop_reason = reason

    def state(self) -> ClockState:
        if not self.is_open:
            return ClockState.STOPPED
        if self.breached_at is not None:
            return ClockState.BREACHED
        return ClockState.PAUSED if self.running_since is None else ClockState.RUNNING

    def view(self, now: datetime) -> ClockDeadline:
        end = self.stopped_at or now
        paused = self.paused_seconds + (
            (end - self.paused_since).total_seconds() if self.paused_since else 0.0
        )
        elapsed = self.elapsed(end)
        return ClockDeadline(
            clock=self.kind,
            level=self.level,
            unit_id=self.unit_id,
            cycle=self.cycle,
            state=self.state(),
            started_at=self.started_at,
            limit_seconds=round(self.limit_seconds),
            extension_seconds=round(self.extension_seconds),
            elapsed_seconds=round(elapsed),
            paused_seconds=round(paused),
            remaining_seconds=round(self.budget - elapsed),
            deadline=self.deadline,
            warning_at=self.warning_at,
            warned_at=self.warned_at,
            breached_at=self.breached_at,
            stopped_at=self.stopped_at,
            stop_reason=self.stop_reason,
            calendar=self.calendar.name,
        )
