"""The points rules as a pure fold: a report's facts and the event in, the report's new
facts and the lines of its reporter's ledger out. No broker, no Redis (lint-imports).

A report (a ticket id) earns at most one `accepted` award (its first TicketDispatched) and
one `resolved` award (its first TicketResolved), each capped by what its reporter already
earned on the award's day (the policy's zone). A report linked as a duplicate
(ReportLinked names it `duplicate_ticket_id`) or closed as a duplicate or withdrawn earns
nothing, and what it had earned is reversed; a report split back out (ReportSplit) may
earn again. Every line has an id derived from the report and its awards, so the live
ledger and one rebuilt from the streams name the same lines.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from chuishao.common.events import (
    Event,
    PointsExchanged,
    ReportLinked,
    ReportSplit,
    TicketClosed,
    TicketDispatched,
    TicketResolved,
    TicketSubmitted,
)
from chuishao.common.handled import remember
from chuishao.points.policy import PointsPolicy

Reason = Literal["accepted", "resolved"]
REASONS: tuple[Reason, ...] = ("accepted", "resolved")


class Award(BaseModel):
    """Points a report earned and still holds."""

    model_config = ConfigDict(frozen=True)

    reason: Reason
    points: int
    day: str


class ReportPoints(BaseModel):
    """What the ledger knows of one report (one ticket id)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    reporter_ref: str | None = None
    accepted_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    void: str | None = None  # "linked", or the close reason ("duplicate", "withdrawn")
    # Bumped at each reversal, so awards earned again after a split have new line ids.
    generation: int = 0
    given: tuple[Award, ...] = ()
    applied: tuple[str, ...] = ()


class Entry(BaseModel):
    """One line of a reporter's ledger: points earned (maybe 0: the cap), reversed, or
    exchanged for goods."""

    model_config = ConfigDict(frozen=True)

    entry_id: str
    kind: Literal["earned", "reversed", "exchanged"]
    points: int  # signed: what the line adds to the balance
    reason: str  # accepted / resolved / linked / duplicate / withdrawn / the goods
    day: str
    occurred_at: AwareDatetime
    ticket_id: str | None = None
    capped: bool = False  # earned less than the rule's points: the daily cap


@dataclass(frozen=True)
class Change:
    """An event's effect: the report's new facts and its reporter's new lines."""

    report: ReportPoints
    entries: tuple[Entry, ...]

    @property
    def reporter_ref(self) -> str | None:
        return self.report.reporter_ref

    def earned_by_day(self) -> dict[str, int]:
        """What the lines add to the reporter's daily earnings (reversals give none back)."""
        days: dict[str, int] = {}
        for entry in self.entries:
            if entry.kind == "earned":
                days[entry.day] = days.get(entry.day, 0) + entry.points
        return days


RELEVANT = (
    TicketSubmitted,
    TicketDispatched,
    TicketResolved,
    TicketClosed,
    ReportLinked,
    ReportSplit,
)


def report_of(event: Event) -> str:
    """The report (ticket id) an event is about, for the ledger: a link or a split names
    the report in a field of its own (the event's ticket is the one it joined)."""
    match event:
        case ReportLinked():
            return event.duplicate_ticket_id
        case ReportSplit():
            return event.report_ticket_id
        case _:
            return event.ticket_id


def with_facts(report: ReportPoints, event: Event, policy: PointsPolicy) -> ReportPoints:
    """The report's facts once `event` is known (no awards decided yet)."""
    changes: dict[str, object] = {"applied": remember(report.applied, event.event_id)}
    match event:
        case TicketSubmitted():
            if event.reporter_ref is not None:
                changes["reporter_ref"] = event.reporter_ref
        case TicketDispatched():
            if report.accepted_at is None:
                changes["accepted_at"] = event.occurred_at
        case TicketResolved():
            if report.resolved_at is None:
                changes["resolved_at"] = event.occurred_at
            if report.reporter_ref is None and event.reporter_ref is not None:
                changes["reporter_ref"] = event.reporter_ref
        case TicketClosed():
            if event.reason in policy.void_close_reasons and report.void is None:
                changes["void"] = event.reason
        case ReportLinked():
            if report.void is None:
                changes["void"] = "linked"
            if report.reporter_ref is None and event.reporter_ref is not None:
                changes["reporter_ref"] = event.reporter_ref
        case ReportSplit():
            if report.void == "linked":
                changes["void"] = None
    return report.model_copy(update=changes)


def due_days(report: ReportPoints, policy: PointsPolicy) -> set[str]:
    """The days whose earnings the next `settle` of this report needs to know."""
    if report.void is not None or report.reporter_ref is None:
        return set()
    given = {award.reason for award in report.given}
    return {day for reason, day in _wanted(report, policy) if reason not in given}


def _wanted(report: ReportPoints, policy: PointsPolicy) -> list[tuple[Reason, str]]:
    wanted: list[tuple[Reason, str]] = []
    if report.accepted_at is not None:
        wanted.append(("accepted", policy.day_of(report.accepted_at)))
    if report.resolved_at is not None:
        wanted.append(("resolved", policy.day_of(report.resolved_at)))
    return wanted


def settle(
    report: ReportPoints,
    policy: PointsPolicy,
    earned: Mapping[str, int],
    now: datetime,
) -> tuple[ReportPoints, tuple[Entry, ...]]:
    """Give what the report's facts earn and it does not hold yet, within the daily cap
    (`earned`: what its reporter already earned on each of `due_days`); or take back what
    it holds if it is void. `now` dates a reversal's line."""
    if report.reporter_ref is None:
        return report, ()
    if report.void is not None:
        if not report.given:
            return report, ()
        reversals = tuple(
            Entry(
                entry_id=f"{report.ticket_id}/{award.reason}/{report.generation}/reversed",
                kind="reversed",
                points=-award.points,
                reason=report.void,
                day=policy.day_of(now),
                occurred_at=now,
                ticket_id=report.ticket_id,
            )
            for award in report.given
        )
        return report.model_copy(update={"given": (), "generation": report.generation + 1}), (
            reversals
        )
    held = {award.reason for award in report.given}
    so_far = dict(earned)
    awards: list[Award] = []
    entries: list[Entry] = []
    for reason, day in _wanted(report, policy):
        if reason in held:
            continue
        rule = policy.points_for(reason)
        points = max(0, min(rule, policy.daily_cap - so_far.get(day, 0)))
        so_far[day] = so_far.get(day, 0) + points
        awards.append(Award(reason=reason, points=points, day=day))
        moment = report.accepted_at if reason == "accepted" else report.resolved_at
        assert moment is not None
        entries.append(
            Entry(
                entry_id=f"{report.ticket_id}/{reason}/{report.generation}",
                kind="earned",
                points=points,
                reason=reason,
                day=day,
                occurred_at=moment,
                ticket_id=report.ticket_id,
                capped=points < rule,
            )
        )
    if not awards:
        return report, ()
    return report.model_copy(update={"given": (*report.given, *awards)}), tuple(entries)


def exchange_entry(event: PointsExchanged, policy: PointsPolicy) -> Entry:
    return Entry(
        entry_id=event.event_id,
        kind="exchanged",
        points=-event.points,
        reason=event.goods,
        day=policy.day_of(event.occurred_at),
        occurred_at=event.occurred_at,
    )


@dataclass
class Ledger:
    """A whole ledger in memory: the rebuild's, and the unit tests'. The live one keeps
    the same things in Redis (chuishao.points.store), decided by the same functions."""

    policy: PointsPolicy
    reports: dict[str, ReportPoints]
    balances: dict[str, int]
    earned: dict[tuple[str, str], int]  # (reporter_ref, day) → points earned that day
    history: dict[str, list[Entry]]
    exchanges: dict[str, PointsExchanged] = field(default_factory=dict)

    @classmethod
    def empty(cls, policy: PointsPolicy) -> "Ledger":
        return cls(policy, {}, {}, {}, {})

    def apply(self, event: Event) -> Change | None:
        """Fold one ticket event; None when it was already applied or means nothing here."""
        if not isinstance(event, RELEVANT):
            return None
        ticket_id = report_of(event)
        before = self.reports.get(ticket_id, ReportPoints(ticket_id=ticket_id))
        change = decide(before, event, self.policy, self._earned_of(before, event))
        if change is None:
            return None
        self.reports[ticket_id] = change.report
        if change.reporter_ref is not None:
            self.record(change.reporter_ref, change.entries)
        return change

    def _earned_of(self, report: ReportPoints, event: Event) -> dict[str, int]:
        facts = with_facts(report, event, self.policy)
        ref = facts.reporter_ref or ""
        return {day: self.earned.get((ref, day), 0) for day in due_days(facts, self.policy)}

    def record(self, reporter_ref: str, entries: tuple[Entry, ...]) -> None:
        for entry in entries:
            self.balances[reporter_ref] = self.balances.get(reporter_ref, 0) + entry.points
            if entry.kind == "earned":
                key = (reporter_ref, entry.day)
                self.earned[key] = self.earned.get(key, 0) + entry.points
            self.history.setdefault(reporter_ref, []).append(entry)

    def exchange(self, event: PointsExchanged) -> bool:
        """A recorded exchange (the live service checked the balance before it took it);
        False when it was already recorded (a repeat in the stream)."""
        if event.event_id in self.exchanges:
            return False
        self.exchanges[event.event_id] = event
        self.record(event.reporter_ref, (exchange_entry(event, self.policy),))
        return True


def decide(
    report: ReportPoints, event: Event, policy: PointsPolicy, earned: Mapping[str, int]
) -> Change | None:
    """The effect of `event` on `report` (already applied: None). `earned`: what the
    reporter earned on each day of `due_days(with_facts(report, event, policy), policy)`."""
    if event.event_id in report.applied:
        return None
    facts = with_facts(report, event, policy)
    settled, entries = settle(facts, policy, earned, event.occurred_at)
    return Change(settled, entries)
