"""The rebuild's fold: a batch of events at a time, into a namespace only it writes.

The live projection (`projection.Projection`) applies each event in its own WATCHed
transaction of about forty commands, because replicas race for a ticket; that made a
rebuild 413 events/s. A rebuild has one writer and starts from empty keys, so here the
facts of a batch's tickets are read with one MGET, each event is folded in memory in
stream order, and the batch leaves in one pipeline of net differences: per ticket its
counters' difference from the batch's start to its end (the per-event differences add
up to it), its final state count, overdue entries and facts; the union of its scopes.
Hotspot decisions depend on every earlier report, so the report times of each grid ×
category are kept in memory for the whole rebuild (only those within the rule's
history, as Redis keeps them) and decided in stream order exactly as the live path does.
A batch's pipeline leaves while the next batch is folded (Redis and Python each had half
the time idle): the next batch takes the facts of the tickets still on their way from
memory, and a write starts only when the one before it has ended, so they land in order.
`tests/integration/test_supervision_rebuild_fold.py` checks the result key by key
against the live path's.
"""

import asyncio
import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from chuishao.common.events import Event, WhistleBlown
from chuishao.supervision.counters import difference
from chuishao.supervision.hotspots import HotspotRule, windows
from chuishao.supervision.keys import SupervisionKeys
from chuishao.supervision.projection import (
    INCREMENT,
    RECENT_HOTSPOTS,
    RECENT_WHISTLES,
    by_period,
    hotspot_member,
    hotspot_pair,
    judge,
    queue_increments,
    report_time,
    scope_values,
    whistle_member,
)
from chuishao.supervision.ticket import SupervisedTicket, apply


@dataclass
class _Reports:
    """One grid × category's kept report times, as its sorted set in Redis holds them,
    and what changed in them since the last write."""

    scores: list[float] = field(default_factory=list)  # ascending
    members: list[str] = field(default_factory=list)  # aligned with scores
    score_of: dict[str, float] = field(default_factory=dict)
    added: dict[str, float] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)

    def count(self, after: float, until: float) -> int:
        """ZCOUNT key (after until."""
        return bisect.bisect_right(self.scores, until) - bisect.bisect_right(self.scores, after)

    def add(self, member: str, score: float) -> None:
        if member in self.score_of:
            self._drop(self.score_of[member], member)
        at = bisect.bisect_right(self.scores, score)
        self.scores.insert(at, score)
        self.members.insert(at, member)
        self.score_of[member] = score
        self.added[member] = score
        self.removed.discard(member)

    def trim_below(self, bound: float) -> None:
        """ZREMRANGEBYSCORE key -inf (bound."""
        end = bisect.bisect_left(self.scores, bound)
        for member in self.members[:end]:
            del self.score_of[member]
            self.added.pop(member, None)
            self.removed.add(member)
        del self.scores[:end], self.members[:end]

    def _drop(self, score: float, member: str) -> None:
        at = bisect.bisect_left(self.scores, score)
        while self.members[at] != member:
            at += 1
        del self.scores[at], self.members[at]


@dataclass
class BatchTicket:
    """One ticket's course through a batch: what it was at the start (its counters,
    status, whether overdue), its facts now, and what it touched on the way."""

    first_counts: dict[tuple[str, str, str], int]
    first_status: str | None
    first_overdue: bool
    now: SupervisedTicket | None
    changed: bool = False
    scopes: set[tuple[str, str]] = field(default_factory=set)
    days: set[str] = field(default_factory=set)
    overdue_streets: set[str] = field(default_factory=set)

    def fold(
        self, event: Event, zone: tzinfo, *, copy_until_counted: bool
    ) -> tuple[SupervisedTicket, tuple[str, str] | None] | None:
        """The facts after `event` and the grid × category it counts its report in (not
        taken yet; None: applied already). Folded in place (the batch owns the facts, and
        what they were is kept above) — on a copy while the ticket has not counted its
        report, when `copy_until_counted`."""
        before = self.now
        if before is not None and event.event_id in before.applied:
            return None
        counted = before is not None and before.hotspot_key is not None
        after = apply(before, event, zone, in_place=counted or not copy_until_counted)
        return after, hotspot_pair(counted, after)

    def take(
        self, after: SupervisedTicket, event: Event, keys: SupervisionKeys, writes: "MergedWrites"
    ) -> None:
        """The facts after `event`: what the ticket touched, and a whistle it blew."""
        self.now, self.changed = after, True
        self.scopes.update(scope_values(after))
        self.days.add(after.day)
        if after.overdue_since is not None and after.street:
            self.overdue_streets.add(after.street)
        if isinstance(event, WhistleBlown):
            member = whistle_member(event, after)
            writes.scored[keys.whistles][member] = event.occurred_at.timestamp()

    @classmethod
    def starting(cls, facts: SupervisedTicket | None) -> "BatchTicket":
        ticket = cls(
            first_counts=by_period(facts),
            first_status=facts.status if facts is not None else None,
            first_overdue=facts is not None and facts.overdue_since is not None,
            now=facts,
        )
        if facts is not None and facts.overdue_since is not None and facts.street:
            ticket.overdue_streets.add(facts.street)
        return ticket


@dataclass
class MergedWrites:
    """A batch's writes, merged across its tickets before they leave."""

    strings: dict[str, str | bytes] = field(default_factory=dict)
    increments: Counter[tuple[str, str]] = field(default_factory=Counter)
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    scored: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    unscored: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


class RebuildFold:
    def __init__(
        self, redis: Redis, keys: SupervisionKeys, zone: tzinfo, rule: HotspotRule
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.zone = zone
        self.rule = rule
        self._reports: dict[tuple[str, str], _Reports] = {}
        self._quiet: dict[tuple[str, str], float] = {}
        self._changed: set[tuple[str, str]] = set()  # report times not written yet
        self._increment = redis.register_script(INCREMENT)
        self._writing: asyncio.Task[None] | None = None
        self._in_flight: dict[str, SupervisedTicket] = {}  # facts the write carries

    async def apply(self, events: list[Event]) -> None:
        """Fold a batch of events, in stream order, and start writing what it changed
        (`flush` waits for the last write)."""
        if not events:
            return
        ids = list(dict.fromkeys(event.ticket_id for event in events))
        facts: dict[str, SupervisedTicket | None] = {
            ticket_id: self._in_flight[ticket_id]
            for ticket_id in ids
            if ticket_id in self._in_flight
        }
        if read := [ticket_id for ticket_id in ids if ticket_id not in facts]:
            stored = cast(
                "list[bytes | None]",
                await self.redis.mget([self.keys.ticket(ticket_id) for ticket_id in read]),
            )
            for ticket_id, raw in zip(read, stored, strict=True):
                facts[ticket_id] = SupervisedTicket.from_stored(raw) if raw else None
        tickets = {ticket_id: BatchTicket.starting(facts[ticket_id]) for ticket_id in ids}
        writes = MergedWrites()
        for event in events:
            ticket = tickets[event.ticket_id]
            folded = ticket.fold(event, self.zone, copy_until_counted=False)
            if folded is None:
                continue
            after, pair = folded
            ticket.take(after, event, self.keys, writes)
            if pair is not None:
                self._count_report(pair, event, after, writes)
        for ticket in tickets.values():
            ticket_writes(self.keys, ticket, writes)
        await self.flush()
        # The facts are folded in place by the next batch: their bytes are taken above.
        self._in_flight = {
            ticket_id: ticket.now for ticket_id, ticket in tickets.items() if ticket.now is not None
        }
        self._writing = asyncio.ensure_future(self._write(writes))

    async def flush(self) -> None:
        """Wait until every batch folded so far is written."""
        writing, self._writing = self._writing, None
        if writing is not None:
            await writing

    def _count_report(
        self, pair: tuple[str, str], event: Event, after: SupervisedTicket, writes: MergedWrites
    ) -> None:
        reports = self._reports.setdefault(pair, _Reports())
        at = report_time(after)
        counted = [reports.count(*bounds) for bounds in windows(self.rule, at)]
        own = reports.score_of.get(after.ticket_id)
        _verdict, warning = judge(self.rule, event, after, counted, own, self._quiet.get(pair))
        self._changed.add(pair)
        reports.add(after.ticket_id, at)
        reports.trim_below(at - self.rule.history_seconds)
        if warning is not None:
            self._quiet[pair] = at + self.rule.window_seconds
            writes.strings[self.keys.hotspot_quiet(*pair)] = repr(self._quiet[pair])
            writes.scored[self.keys.hotspots][hotspot_member(warning)] = (
                warning.occurred_at.timestamp()
            )

    async def _write(self, writes: MergedWrites) -> None:
        keys = self.keys
        for grid, category in sorted(self._changed):
            reports = self._reports[(grid, category)]
            key = keys.hotspot_reports(grid, category)
            writes.unscored[key].update(reports.removed)
            writes.scored[key].update(reports.added)
            reports.added, reports.removed = {}, set()
        self._changed.clear()
        async with self.redis.pipeline(transaction=False) as pipe:
            queue_merged(pipe, keys, writes)
            await queue_increments(pipe, self._increment, writes.increments)
            await pipe.execute()


def ticket_writes(keys: SupervisionKeys, ticket: BatchTicket, writes: MergedWrites) -> None:
    """A ticket's net writes over a batch, merged into `writes`."""
    now = ticket.now
    if now is None or not ticket.changed:
        return  # every event of it was applied already
    writes.strings[keys.ticket(now.ticket_id)] = now.stored()
    for (scope, period, name), n in difference(ticket.first_counts, by_period(now)).items():
        writes.increments[(keys.counts(scope, period), name)] += n
    for kind, value in ticket.scopes:
        writes.members[keys.index(kind)].add(value)
    writes.members[keys.days].update(ticket.days)
    if ticket.first_status != now.status:
        if ticket.first_status is not None:
            writes.increments[(keys.states, ticket.first_status)] -= 1
        writes.increments[(keys.states, now.status)] += 1
    overdue_since = now.overdue_since
    street_now = now.street if overdue_since is not None and now.street else None
    for street in ticket.overdue_streets - {street_now}:
        writes.unscored[keys.overdue_in(street)].add(now.ticket_id)
    if overdue_since is not None:
        writes.scored[keys.overdue][now.ticket_id] = overdue_since.timestamp()
        if street_now is not None:
            writes.scored[keys.overdue_in(street_now)][now.ticket_id] = overdue_since.timestamp()
    elif ticket.first_overdue:
        writes.unscored[keys.overdue].add(now.ticket_id)


def queue_merged(pipe: Pipeline, keys: SupervisionKeys, writes: MergedWrites) -> None:
    """Queue a batch's merged writes but its counter increments."""
    if writes.strings:
        pipe.mset(writes.strings)
    for key, members in writes.members.items():
        pipe.sadd(key, *sorted(members))
    # Removed before added: a ticket leaves one street's overdue list for another's.
    for key, removed in writes.unscored.items():
        if removed:
            pipe.zrem(key, *sorted(removed))
    for key, scored in writes.scored.items():
        if scored:
            pipe.zadd(key, scored)
    # Adding a batch and keeping the newest N once keeps what keeping them after each
    # addition keeps: an entry pushed out was below N others, which stay.
    if writes.scored.get(keys.whistles):
        pipe.zremrangebyrank(keys.whistles, 0, -(RECENT_WHISTLES + 1))
    if writes.scored.get(keys.hotspots):
        pipe.zremrangebyrank(keys.hotspots, 0, -(RECENT_HOTSPOTS + 1))
