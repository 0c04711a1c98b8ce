"""Applies ticket events to the projection in Redis: exactly once per event, atomically.

Per event: read the ticket's facts under WATCH, skip an event already applied (its id is
in the facts), fold it in, and in one MULTI write the facts, the counter differences,
the state counts, the overdue set, the whistle list and the hotspot window. A hotspot
warning decided here goes into an outbox in the same transaction and is published after;
a failed publish stays in the outbox for the relay, and the event id (derived from its
cause) lets JetStream drop a repeat.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript
from redis.exceptions import WatchError

from chuishao.common.events import Event, HotspotDetected, WhistleBlown
from chuishao.common.outbox import Outbox
from chuishao.supervision.counters import contributions, difference, problem
from chuishao.supervision.hotspots import HotspotRule, Verdict, decide, windows
from chuishao.supervision.keys import ALL_PERIODS, SupervisionKeys, text
from chuishao.supervision.ticket import SupervisedTicket, apply, day_of

PRODUCER = "supervision"
RECENT_WHISTLES = 100
RECENT_HOTSPOTS = 50


# KEYS: counter hashes; ARGV: field and amount for each key in turn. One call for a
# batch's HINCRBYs: sent one by one, they were most of the rebuild's time, and most of a
# live batch's commands (each reply read on its own).
INCREMENT = """
for i = 1, #KEYS do
  redis.call('HINCRBY', KEYS[i], ARGV[2 * i - 1], ARGV[2 * i])
end
return #KEYS
"""
INCREMENTS_PER_CALL = 5_000  # it holds Redis meanwhile


async def queue_increments(
    pipe: Pipeline, script: AsyncScript, increments: Mapping[tuple[str, str], int]
) -> None:
    """Queue counter increments ((hash, field) → amount; zeros left out) as script calls."""
    changed = [(key, name, n) for (key, name), n in increments.items() if n]
    for start in range(0, len(changed), INCREMENTS_PER_CALL):
        chunk = changed[start : start + INCREMENTS_PER_CALL]
        arguments = [part for _, name, n in chunk for part in (name, n)]
        await script(keys=[key for key, _, _ in chunk], args=arguments, client=pipe)


def by_period(facts: SupervisedTicket | None) -> dict[tuple[str, str, str], int]:
    """(scope, period, counter) → n: each ticket counts in its own day, its month and
    `all`. The month's hash makes a month's board one read per scope instead of thirty
    (keys.months_since says from which month on they are complete)."""
    if facts is None:
        return {}
    expanded: dict[tuple[str, str, str], int] = {}
    month = facts.day[:7]
    for (scope, name), n in contributions(facts).items():
        expanded[(scope, facts.day, name)] = n
        expanded[(scope, month, name)] = n
        expanded[(scope, ALL_PERIODS, name)] = n
    return expanded


ALL_MONTHS = "0000-00"  # months_since when every month's hashes are complete


def month_after(day: str) -> str:
    """The month after the one of `day` (YYYY-MM-DD)."""
    year, month = int(day[:4]), int(day[5:7])
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}"


async def mark_month_counters(
    redis: Redis, keys: SupervisionKeys, now: datetime, zone: tzinfo
) -> str:
    """Record once from which month on the month hashes are complete, before the first
    event is applied: every month for an empty projection; for one that held tickets
    before month hashes were kept, the months that begin after now (a ticket counts in
    the month it came in, so every ticket of those months is counted from its first
    event). A lost mark is set again the careful way. (A projection written by an older
    version after the mark — a rollback — is not detected: run the rebuild then.)"""
    held = [text(day) for day in await redis.smembers(keys.days)]
    # After the latest month it holds too: a clock behind the tickets' own times (a
    # travelled clock, a skewed host) must not trust a month already under way.
    since = month_after(max([day_of(now, zone), *held])) if held else ALL_MONTHS
    await redis.set(keys.months_since, since, nx=True)
    return text(await redis.get(keys.months_since) or since)


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class HotspotReport:
    """A report entering its grid × category window, and what it decided."""

    reports_key: str
    quiet_key: str
    ticket_id: str
    at: float
    verdict: Verdict
    warning: HotspotDetected | None


def hotspot_pair(counted_before: bool, after: SupervisedTicket) -> tuple[str, str] | None:
    """The grid × category this event counts the report in, or None. A report counts once
    for hotspots: when it is first dispatched, since the router's placing gives its grid
    and the street the warning goes to. Marks the facts as counted."""
    if counted_before:
        return None
    if not after.dispatched or after.received_at is None:
        return None
    if not after.grid or not after.category:
        return None
    if after.proactive:  # the centre's answer to a hotspot is not one more report of it
        return None
    after.hotspot_key = f"{after.grid}|{after.category}"
    return after.grid, after.category


def report_time(facts: SupervisedTicket) -> float:
    """The report's time in its grid × category window: when it was received."""
    assert facts.received_at is not None  # hotspot_pair counts only received reports
    return facts.received_at.timestamp()


def judge(
    rule: HotspotRule,
    cause: Event,
    after: SupervisedTicket,
    counted: list[int],
    own: float | None,
    quiet_until: float | None,
) -> tuple[Verdict, HotspotDetected | None]:
    """The verdict on a report, from the kept report times counted in each of its
    windows (`counted`, this report not yet added), the time kept for this very report
    if a replay finds one, and the pair's quiet period."""
    at = report_time(after)
    bounds = windows(rule, at)
    counts = list(counted)
    # This report, counted once: a replay may find its own time already kept.
    if own is not None:
        counts = [
            n - (earliest < own <= latest)
            for n, (earliest, latest) in zip(counts, bounds, strict=True)
        ]
    counts[0] += 1
    verdict = decide(rule, counts, at, quiet_until)
    if not verdict.fire:
        return verdict, None
    assert after.grid is not None
    assert after.category is not None
    return verdict, HotspotDetected.caused_by(
        cause,
        producer=PRODUCER,
        occurred_at=cause.occurred_at,
        discriminator=f"{after.grid}|{after.category}",
        grid_code=after.grid,
        street=after.street,
        category=after.category,
        count=verdict.count,
        window_seconds=round(rule.window_seconds),
        threshold=verdict.threshold,
    )


class Projection:
    def __init__(
        self,
        redis: Redis,
        keys: SupervisionKeys,
        zone: tzinfo,
        rule: HotspotRule,
        *,
        emit: bool = True,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.zone = zone
        self.rule = rule
        # A rebuild replays history: it decides the same warnings but sends none again.
        self.emit = emit
        self.outbox = outbox_of(redis, keys)
        self.increment = redis.register_script(INCREMENT)

    async def facts(self, ticket_id: str) -> SupervisedTicket | None:
        raw = await self.redis.get(self.keys.ticket(ticket_id))
        return SupervisedTicket.from_stored(raw) if raw else None

    async def apply(self, event: Event) -> list[HotspotDetected]:
        """Fold one event in; returns the warnings to publish (already in the outbox).
        The consumer applies batches (`live_batch.apply_batch`); this event-by-event path
        is what a batch must write the same as (its tests, benchmarks/consumers.py)."""
        ticket_key = self.keys.ticket(event.ticket_id)
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(ticket_key)
                    raw = await pipe.get(ticket_key)
                    before = SupervisedTicket.from_stored(raw) if raw else None
                    if before is not None and event.event_id in before.applied:
                        return []
                    after = apply(before, event, self.zone)
                    report = await self._hotspot(pipe, before, after, event)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    self._write(pipe, before, after, event)
                    if report is not None:
                        self.count_report(pipe, report)
                    await pipe.execute()
                except WatchError:
                    continue  # another replica changed this ticket meanwhile: decide again
            warning = report.warning if report is not None else None
            return [warning] if warning is not None and self.emit else []

    async def _hotspot(
        self, pipe: Pipeline, before: SupervisedTicket | None, after: SupervisedTicket, cause: Event
    ) -> "HotspotReport | None":
        pair = hotspot_pair(before is not None and before.hotspot_key is not None, after)
        if pair is None:
            return None
        grid, category = pair
        reports = self.keys.hotspot_reports(grid, category)
        quiet = self.keys.hotspot_quiet(grid, category)
        await pipe.watch(reports, quiet)
        at = report_time(after)
        bounds = windows(self.rule, at)
        # Counted in Redis, in one round trip: a busy grid keeps thousands of report
        # times, and reading them all for every report made each one slower than the last.
        # The WATCH above still guards these reads, made on another connection.
        async with self.redis.pipeline(transaction=False) as reads:
            for earliest, latest in bounds:
                reads.zcount(reports, f"({earliest!r}", repr(latest))
            reads.zscore(reports, after.ticket_id)
            reads.get(quiet)
            *counted, own, quiet_until = await reads.execute()
        verdict, warning = judge(
            self.rule,
            cause,
            after,
            [int(n) for n in counted],
            float(own) if own is not None else None,
            float(quiet_until) if quiet_until else None,
        )
        return HotspotReport(reports, quiet, after.ticket_id, at, verdict, warning)

    def _write(
        self, pipe: Pipeline, before: SupervisedTicket | None, after: SupervisedTicket, event: Event
    ) -> None:
        keys = self.keys
        pipe.set(keys.ticket(after.ticket_id), after.stored())
        for (scope, period, name), n in difference(by_period(before), by_period(after)).items():
            pipe.hincrby(keys.counts(scope, period), name, n)
        for kind, value in scope_values(after):
            pipe.sadd(keys.index(kind), value)
        pipe.sadd(keys.days, after.day)
        if before is None or before.status != after.status:
            if before is not None:
                pipe.hincrby(keys.states, before.status, -1)
            pipe.hincrby(keys.states, after.status, 1)
        overdue_since = after.overdue_since
        if overdue_since is not None:
            pipe.zadd(keys.overdue, {after.ticket_id: overdue_since.timestamp()})
        elif before is not None and before.overdue_since is not None:
            pipe.zrem(keys.overdue, after.ticket_id)
        if overdue_since is not None and after.street:
            pipe.zadd(keys.overdue_in(after.street), {after.ticket_id: overdue_since.timestamp()})
        if (
            before is not None
            and before.street
            and before.overdue_since is not None
            and (overdue_since is None or before.street != after.street)
        ):
            pipe.zrem(keys.overdue_in(before.street), after.ticket_id)
        if isinstance(event, WhistleBlown):
            member = whistle_member(event, after)
            pipe.zadd(keys.whistles, {member: event.occurred_at.timestamp()})
            pipe.zremrangebyrank(keys.whistles, 0, -(RECENT_WHISTLES + 1))

    def count_report(self, pipe: Pipeline, report: "HotspotReport") -> None:
        pipe.zadd(report.reports_key, {report.ticket_id: report.at})
        # Older reports can no longer fall in the window or the trailing average.
        oldest_kept = report.at - self.rule.history_seconds
        pipe.zremrangebyscore(report.reports_key, "-inf", f"({oldest_kept}")
        warning = report.warning
        if warning is None:
            return
        pipe.set(report.quiet_key, repr(report.at + self.rule.window_seconds))
        member = hotspot_member(warning)
        pipe.zadd(self.keys.hotspots, {member: warning.occurred_at.timestamp()})
        pipe.zremrangebyrank(self.keys.hotspots, 0, -(RECENT_HOTSPOTS + 1))
        if self.emit:
            self.outbox.queue(pipe, [warning])


def whistle_member(event: WhistleBlown, after: SupervisedTicket) -> str:
    """The entry of the recent whistles list for a whistle blown."""
    return _json(
        {
            "at": event.occurred_at.isoformat(),
            "ticket_id": event.ticket_id,
            "whistle": event.whistle,
            "level": event.level,
            "units": list(event.units),
            "report_within_seconds": event.report_within_seconds,
            "category": after.category,
            "street": after.street,
        }
    )


def hotspot_member(warning: HotspotDetected) -> str:
    """The entry of the recent hotspots list for a warning."""
    return _json(
        {
            "at": warning.occurred_at.isoformat(),
            "event_id": warning.event_id,
            "ticket_id": warning.ticket_id,
            "grid": warning.grid_code,
            "street": warning.street,
            "category": warning.category,
            "count": warning.count,
            "threshold": warning.threshold,
            "window_seconds": warning.window_seconds,
        }
    )


def outbox_of(redis: Redis, keys: SupervisionKeys) -> Outbox:
    """Supervision's outbox (its dead letters: dlq.supervision-outbox)."""
    return Outbox(
        redis, "supervision-outbox", queued_key=keys.outbox_queued, payloads_key=keys.outbox
    )


def scope_values(facts: SupervisedTicket) -> Iterable[tuple[str, str]]:
    for kind, value in (
        ("street", facts.street),
        ("grid", facts.grid),
        ("category", facts.category),
    ):
        if value:
            yield kind, value
    key = problem(facts)
    if key is not None:  # 每月一题
        yield "problem", key
    for unit_id in facts.units:
        yield "unit", unit_id
        if facts.street:
            yield "street_unit", f"{facts.street}/{unit_id}"
