"""The live projection, a fetched batch of events at a time (#18).

`Projection.apply` spends four round trips and a transaction of about forty commands on
each event. Here a batch's tickets are WATCHed and read with one MGET, its events folded
in memory in stream order (as the rebuild's fold does), the report counts of its grid ×
category windows read in one pipeline, and everything written in one MULTI: the same
net writes the event-by-event path leaves (`tests/integration/
test_supervision_rebuild_fold.py` compares them key by key). Another replica writing one
of these tickets or windows meanwhile makes the transaction fail; the batch is then
decided again.

A hotspot verdict depends on every earlier report of its grid × category. Each ticket
counts once, so a batch holds at most one report per ticket; a second report of the
same grid × category ends the batch before it, and the rest follows as the next batch,
so every verdict reads the windows exactly as the event-by-event path would.
"""

from dataclasses import dataclass

from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from chuishao.common.events import Event, HotspotDetected
from chuishao.supervision.hotspots import windows
from chuishao.supervision.projection import (
    HotspotReport,
    Projection,
    judge,
    queue_increments,
    report_time,
)
from chuishao.supervision.rebuild_fold import BatchTicket, MergedWrites, queue_merged, ticket_writes
from chuishao.supervision.ticket import SupervisedTicket


@dataclass(frozen=True)
class _Report:
    pair: tuple[str, str]
    cause: Event
    after: SupervisedTicket


@dataclass
class _Folded:
    tickets: dict[str, BatchTicket]
    writes: MergedWrites
    reports: list[_Report]
    taken: int  # events of the batch folded; the rest is the next batch


async def apply_batch(projection: Projection, events: list[Event]) -> list[HotspotDetected]:
    """Fold `events` (stream order) in; returns the warnings to publish (already in the
    outbox). Idempotent: an event already applied is skipped, as one by one."""
    warnings: list[HotspotDetected] = []
    while events:
        taken, decided = await _apply_part(projection, events)
        warnings += decided
        events = events[taken:]
    return warnings


async def _apply_part(
    projection: Projection, events: list[Event]
) -> tuple[int, list[HotspotDetected]]:
    keys = projection.keys
    ids = list(dict.fromkeys(event.ticket_id for event in events))
    ticket_keys = [keys.ticket(ticket_id) for ticket_id in ids]
    while True:
        async with projection.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(*ticket_keys)
                stored = await pipe.mget(ticket_keys)
                facts = {
                    ticket_id: SupervisedTicket.from_stored(raw) if raw else None
                    for ticket_id, raw in zip(ids, stored, strict=True)
                }
                folded = _fold(projection, events, facts)
                reports = await _judge(projection, pipe, folded.reports)
                pipe.multi()  # type: ignore[no-untyped-call]
                for ticket in folded.tickets.values():
                    ticket_writes(keys, ticket, folded.writes)
                queue_merged(pipe, keys, folded.writes)
                await queue_increments(pipe, projection.increment, folded.writes.increments)
                for report in reports:
                    projection.count_report(pipe, report)
                await pipe.execute()
            except WatchError:
                continue  # another replica changed one of them meanwhile: decide again
        decided = [r.warning for r in reports if r.warning is not None]
        return folded.taken, decided if projection.emit else []


def _fold(
    projection: Projection, events: list[Event], facts: dict[str, SupervisedTicket | None]
) -> _Folded:
    tickets = {ticket_id: BatchTicket.starting(known) for ticket_id, known in facts.items()}
    writes = MergedWrites()
    reports: list[_Report] = []
    pairs: set[tuple[str, str]] = set()
    for index, event in enumerate(events):
        ticket = tickets[event.ticket_id]
        # On a copy until the ticket has counted its report (it never counts again), so an
        # event that would count a second report of a grid × category in this batch
        # leaves the facts as they were for the next batch.
        folded = ticket.fold(event, projection.zone, copy_until_counted=True)
        if folded is None:
            continue
        after, pair = folded
        if pair is not None and pair in pairs:
            return _Folded(tickets, writes, reports, index)
        ticket.take(after, event, projection.keys, writes)
        if pair is not None:
            pairs.add(pair)
            # As it is now: later events of the batch fold the same facts in place.
            reports.append(_Report(pair, event, after.model_copy()))
    return _Folded(tickets, writes, reports, len(events))


async def _judge(
    projection: Projection, pipe: Pipeline, reports: list[_Report]
) -> list[HotspotReport]:
    """The verdict on each report (one per grid × category), from one read pipeline."""
    if not reports:
        return []
    keys, rule = projection.keys, projection.rule
    watched = [
        key
        for report in reports
        for key in (keys.hotspot_reports(*report.pair), keys.hotspot_quiet(*report.pair))
    ]
    await pipe.watch(*watched)
    # The WATCH above guards these reads, made on another connection (as one by one).
    async with projection.redis.pipeline(transaction=False) as reads:
        for report in reports:
            key = keys.hotspot_reports(*report.pair)
            for earliest, latest in windows(rule, report_time(report.after)):
                reads.zcount(key, f"({earliest!r}", repr(latest))
            reads.zscore(key, report.after.ticket_id)
            reads.get(keys.hotspot_quiet(*report.pair))
        answers = iter(await reads.execute())
    judged = []
    for report in reports:
        at = report_time(report.after)
        counted = [int(next(answers)) for _ in windows(rule, at)]
        own, quiet_until = next(answers), next(answers)
        verdict, warning = judge(
            rule,
            report.cause,
            report.after,
            counted,
            float(own) if own is not None else None,
            float(quiet_until) if quiet_until else None,
        )
        judged.append(
            HotspotReport(
                keys.hotspot_reports(*report.pair),
                keys.hotspot_quiet(*report.pair),
                report.after.ticket_id,
                at,
                verdict,
                warning,
            )
        )
    return judged
