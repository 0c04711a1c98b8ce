"""Intake's records rebuilt from the streams: TICKETS holds every event a record folds,
the contact store (chuishao.intake.contacts) what no event carries. Redis is a cache of
that fold that may forget its last writes; this module notices and repairs it.

    python -m chuishao.intake.rebuild            # replay TICKETS, compare with Redis
    python -m chuishao.intake.rebuild --write    # ... and write what is missing or behind

The same fold runs inside intake: before it serves (the start-up check) and every few
seconds while it runs (a Redis rolled back under a running intake). Both read the
TICKETS sequence up to which Redis's records are known complete (a watermark kept in the
same Redis: rolled back with the records it describes), check every later event against
the records, and rebuild the tickets that lack one. The watermark then moves, by
compare-and-set, so a rollback in between is never covered up.

One writer: events change records only through `projection.apply`, as live.
"""

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import nats
import structlog
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import WatchError

from chuishao.common import packing, stream_reader, subjects
from chuishao.common.clients import redis_client
from chuishao.common.events import Event, ReportLinked, ReportSplit, TicketSubmitted, parse_event
from chuishao.common.settings import ENV_PREFIX
from chuishao.common.streams import INTAKE_RECORDS, TICKETS
from chuishao.intake.contacts import ContactEntry, ContactStore, load_keys
from chuishao.intake.projection import PLACING, apply, created, fold_into, placed_like
from chuishao.intake.records import TicketRecord
from chuishao.intake.settings import IntakeSettings
from chuishao.intake.store import RecordStore, legacy_sequence_key
from chuishao.intake.ticket_ids import TicketIds, sequence_of

if TYPE_CHECKING:
    from chuishao.intake.service import Intake

PRODUCER = "intake"
WATERMARK = "intake:records:watermark"
STREAM = TICKETS.name or "TICKETS"
BATCH = 500
# Past this many tickets to rebuild, one pass over the whole stream beats a filter each.
MAX_FILTERS = 200
# Other services' events the record folds: what the intake-records consumer reads.
FOREIGN_KINDS = INTAKE_RECORDS.event_kinds
log = structlog.get_logger()

FirstEntry = Callable[[str], Awaitable[ContactEntry | None]]


@dataclass(frozen=True)
class Shard:
    """One of `of` shards of the tickets, folded by a process of its own (`--workers`): a
    ticket's shard is a stable hash of its id, a linked report's that of its lead, whose
    record it is placed with."""

    index: int
    of: int

    def holds(self, home: str) -> bool:
        return zlib.crc32(home.encode()) % self.of == self.index

    @classmethod
    def parse(cls, text: str) -> "Shard":
        index, _, of = text.partition("/")
        shard = cls(int(index), int(of))
        if not 0 <= shard.index < shard.of:
            raise ValueError(f"no shard {text}: K/N with 0 ≤ K < N")
        return shard


def takes(event: Event) -> bool:
    """Whether a ticket record folds this event: intake's own, and the consumer's kinds."""
    return event.producer == PRODUCER or event.kind in FOREIGN_KINDS


@dataclass
class Fold:
    """The records the stream makes, for every ticket or only the `wanted` ones.

    Each record is held as its short JSON and read again for each event it takes (the
    copy `apply` makes anyway): a rebuild of a whole city must fit in memory, and as
    objects with their events it took 16.4 KB a ticket (3.6 GB of RSS at 200,000), as
    JSON 2.5 KB (docs/benchmarks.md "A whole city"). Packed as Redis keeps it
    (chuishao.common.packing) it would take another 1 KB less, at some 50 µs more per
    event, and time is the scarcer here. The events themselves are kept
    only with `keep_events`: the catch-up of a record that is behind needs them, the
    check of all the others only their ids, which each record's history holds."""

    first_entry: FirstEntry
    wanted: set[str] | None = None
    keep_events: bool = False
    shard: Shard | None = None
    # Each linked report's home: the ticket whose shard holds its lead's record.
    homes: dict[str, str] = field(default_factory=dict)
    held: dict[str, bytes] = field(default_factory=dict)
    # The stored Idempotency-Key of each ticket's submit, where it had one.
    idempotency: dict[str, str] = field(default_factory=dict)
    # Per ticket, how many history entries its record had when created: the entries
    # after those are the events it took from the stream.
    born: dict[str, int] = field(default_factory=dict)
    # With keep_events: per ticket, those events themselves.
    taken: dict[str, list[Event]] = field(default_factory=dict)
    unrebuildable: dict[str, str] = field(default_factory=dict)
    events: int = 0
    skipped: int = 0
    # Contact entries read ahead for the stretch of the stream being taken (take_many).
    prefetched: dict[str, ContactEntry | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.held)

    def tickets(self) -> set[str]:
        return set(self.held)

    def record(self, ticket_id: str) -> TicketRecord | None:
        """The rebuilt record, a fresh copy (the caller may change it)."""
        raw = self.held.get(ticket_id)
        return None if raw is None else TicketRecord.model_validate_json(raw)

    def taken_ids(self, ticket_id: str, record: TicketRecord) -> list[str]:
        """The ids of the events the record took from the stream after its creation."""
        return [entry.event_id for entry in record.history[self.born.get(ticket_id, 0) :]]

    def _keep(self, record: TicketRecord) -> None:
        self.held[record.ticket_id] = record.stored_json().encode()

    def _wants(self, ticket_id: str) -> bool:
        if self.wanted is not None and ticket_id not in self.wanted:
            return False
        return self.shard is None or self.shard.holds(self.homes.get(ticket_id, ticket_id))

    def _link(self, event: Event) -> None:
        if isinstance(event, ReportLinked) and takes(event):
            lead = event.ticket_id
            self.homes[event.duplicate_ticket_id] = self.homes.get(lead, lead)

    async def _create(self, ticket_id: str, submitted: TicketSubmitted | None) -> None:
        if ticket_id in self.held or not self._wants(ticket_id):
            return
        if ticket_id in self.prefetched:
            entry = self.prefetched.pop(ticket_id)
        else:
            entry = await self.first_entry(ticket_id)
        if entry is None:
            if submitted is None:
                # A linked report's own submission was never broadcast (only ReportLinked).
                self.unrebuildable[ticket_id] = "linked report not in the contact store"
                return
            # Before the contact store, or its contact erased: the public event alone.
            record = created(submitted)
        else:
            record = entry.record
            if entry.idempotency_key:
                self.idempotency[ticket_id] = entry.idempotency_key
        self._keep(record)
        self.born[ticket_id] = len(record.history)
        if self.keep_events:
            self.taken[ticket_id] = []
        self.unrebuildable.pop(ticket_id, None)

    def _apply(self, ticket_id: str, event: Event) -> None:
        record = self.record(ticket_id)
        if record is None or record.has_applied(event.event_id):
            return
        lead = fold_into(record, event)  # the unpacked copy is this fold's own
        self._keep(lead)
        if self.keep_events:
            self.taken[ticket_id].append(event)
        if isinstance(event, PLACING):  # its linked reports are placed where it is
            for report_id in lead.linked_reports:
                if (report := self.record(report_id)) is not None:
                    self._keep(placed_like(report, lead))

    async def take_many(self, stretch: list[bytes]) -> None:
        """A stretch of the stream, in order, the contact entries of the tickets it
        creates read concurrently first: one wait per stretch instead of a round trip
        per ticket (210 tickets/s rebuilt before, docs/benchmarks.md "A whole city")."""
        events = []
        for data in stretch:
            try:
                events.append(parse_event(data))
            except ValidationError:
                self.skipped += 1  # a type this version does not know (the consumer too)
        for event in events:  # before the shards are decided: a report goes with its lead
            self._link(event)
        new = sorted(
            {
                ticket_id
                for event in events
                for ticket_id in _creates(event)
                if ticket_id not in self.held and self._wants(ticket_id)
            }
        )
        entries = await asyncio.gather(*(self.first_entry(ticket_id) for ticket_id in new))
        self.prefetched = dict(zip(new, entries, strict=True))
        for event in events:
            await self._take(event)
        self.prefetched = {}

    async def take(self, data: bytes) -> None:
        try:
            event = parse_event(data)
        except ValidationError:
            self.skipped += 1  # a type this version does not know (the consumer skips it too)
            return
        await self._take(event)

    async def _take(self, event: Event) -> None:
        if not takes(event):
            return
        self.events += 1
        match event:
            case TicketSubmitted():
                # A second one is a split report routed again: not in its record.
                await self._create(event.ticket_id, event)
            case ReportLinked():
                self._link(event)
                await self._create(event.duplicate_ticket_id, None)
                self._apply(event.ticket_id, event)
            case ReportSplit():
                self._apply(event.ticket_id, event)
                self._apply(event.report_ticket_id, event)
            case _:
                self._apply(event.ticket_id, event)


def _creates(event: Event) -> list[str]:
    """The ticket whose record this event starts, if any (from its contact entry)."""
    if not takes(event):
        return []
    match event:
        case TicketSubmitted():
            return [event.ticket_id]
        case ReportLinked():
            return [event.duplicate_ticket_id]
    return []


def expectations(event: Event) -> list[tuple[str, str | None]]:
    """(ticket, event id its record must hold; None: the record must exist)."""
    if not takes(event):
        return []
    match event:
        case TicketSubmitted():
            return [(event.ticket_id, None)]
        case ReportLinked():
            return [(event.duplicate_ticket_id, None), (event.ticket_id, event.event_id)]
        case ReportSplit():
            return [(event.ticket_id, event.event_id), (event.report_ticket_id, event.event_id)]
    return [(event.ticket_id, event.event_id)]


async def last_sequence(js: JetStreamContext) -> int:
    return await stream_reader.last_sequence(js, STREAM)


def read(
    js: JetStreamContext, after: int, until: int, filters: list[str] | None = None
) -> AsyncIterator[tuple[int, bytes]]:
    return stream_reader.read(js, STREAM, after, until, filters or [subjects.TICKET_EVENTS])


async def fold(
    js: JetStreamContext,
    contacts: ContactStore,
    until: int,
    wanted: set[str] | None = None,
    *,
    keep_events: bool = False,
    shard: Shard | None = None,
) -> Fold:
    """Replay the stream up to `until` into records (all, or only the wanted tickets, or
    only one shard of them)."""
    result = Fold(contacts.first_entry, wanted, keep_events, shard)
    filters = None
    if wanted is not None:
        tickets = set(wanted)
        ordered = sorted(wanted)
        for start in range(0, len(ordered), BATCH):  # read concurrently, a batch at a time
            chunk = ordered[start : start + BATCH]
            for first in await asyncio.gather(*(contacts.first_record(t) for t in chunk)):
                if first is not None and first.linked_to:  # created by its lead's ReportLinked
                    tickets.add(first.linked_to)
        if len(tickets) <= MAX_FILTERS:
            filters = subjects.events_of_tickets(tickets)
    stretch: list[bytes] = []
    async for _, data in read(js, 0, until, filters):
        stretch.append(data)
        if len(stretch) == BATCH:
            await result.take_many(stretch)
            stretch = []
    await result.take_many(stretch)
    return result


@dataclass
class Repair:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    behind: list[str] = field(default_factory=list)
    unrebuildable: dict[str, str] = field(default_factory=dict)
    written: int = 0


async def _stored(store: RecordStore, ticket_ids: list[str]) -> dict[str, TicketRecord]:
    return {record.ticket_id: record for record in await store.get_many(ticket_ids)}


async def suspects(
    js: JetStreamContext, store: RecordStore, after: int, until: int, settled: int
) -> set[str]:
    """Tickets whose record lacks something the stream holds after `after`. Past
    `settled` the intake-records consumer may not have folded other services' events
    yet: there only the record itself must exist."""
    expected: dict[str, set[str | None]] = {}
    async for sequence, data in read(js, after, until):
        try:
            event = parse_event(data)
        except ValidationError:
            continue
        pending = sequence > settled and event.producer != PRODUCER
        for ticket_id, event_id in expectations(event):
            if pending:
                event_id = None  # noqa: PLW2901 - only its existence is known yet
            expected.setdefault(ticket_id, set()).add(event_id)
    wrong: set[str] = set()
    ordered = sorted(expected)
    for start in range(0, len(ordered), BATCH):  # a batch of records in memory at a time
        chunk = ordered[start : start + BATCH]
        stored = await _stored(store, chunk)
        wrong.update(
            ticket_id
            for ticket_id in chunk
            if ticket_id not in stored
            or any(
                e is not None and not stored[ticket_id].has_applied(e) for e in expected[ticket_id]
            )
        )
    return wrong


Refold = Callable[[set[str]], Awaitable[Fold]]


async def repair(
    store: RecordStore,
    rebuilt: Fold,
    ticket_ids: set[str],
    *,
    write: bool,
    refold: Refold | None = None,
) -> Repair:
    """Compare the rebuilt records with Redis, a batch at a time; with `write`, add what
    Redis lacks: a missing record whole, a record that is behind the events it lacks (in
    stream order, through `apply`, so a change made meanwhile is kept). Those events come
    from `rebuilt` when it kept them, else from `refold` (the stream read again for the
    tickets that are behind: few, after a rollback of seconds)."""
    report = Repair(checked=len(ticket_ids))
    ordered = sorted(ticket_ids)
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        stored = await _stored(store, chunk)
        restoring: list[TicketRecord] = []
        for ticket_id in chunk:
            record = rebuilt.record(ticket_id)
            if record is None:
                if ticket_id not in stored:
                    why = rebuilt.unrebuildable.get(ticket_id, "no TicketSubmitted in the stream")
                    report.unrebuildable[ticket_id] = why
                continue
            live = stored.get(ticket_id)
            if live is None:
                report.missing.append(ticket_id)
                restoring.append(record)
            elif any(not live.has_applied(e) for e in rebuilt.taken_ids(ticket_id, record)):
                report.behind.append(ticket_id)
        if write:
            report.written += await _restore(store, rebuilt, restoring)
    if write and report.behind:
        report.written += await _catch_up_all(store, rebuilt, report.behind, refold)
    return report


async def _catch_up_all(
    store: RecordStore, rebuilt: Fold, behind: list[str], refold: Refold | None
) -> int:
    if not rebuilt.keep_events:
        if refold is None:
            raise ValueError("records are behind and the fold kept no events to replay")
        rebuilt = await refold(set(behind))
    for ticket_id in behind:
        await store.change(ticket_id, _catch_up(rebuilt.taken.get(ticket_id, [])))
    return len(behind)


async def _restore(store: RecordStore, rebuilt: Fold, records: list[TicketRecord]) -> int:
    """Write the missing records, a batch to a transaction; a batch a live write touched
    meanwhile is written record by record, each only where Redis still has none."""
    written = 0
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        done = await store.restore_many(batch)
        if done is None:
            done = {r.ticket_id for r in batch if await store.restore(r, None)}
        written += len(done)
        for record in batch:
            key = rebuilt.idempotency.get(record.ticket_id)
            if key and record.ticket_id in done:
                await store.remember_submit(key, record.ticket_id, record.submitted_at)
    return written


def _catch_up(
    lacking: list[Event],
) -> Callable[[TicketRecord], tuple[TicketRecord, list[Event]]]:
    def change(record: TicketRecord) -> tuple[TicketRecord, list[Event]]:
        for event in lacking:
            if not record.has_applied(event.event_id):
                record = apply(record, event)
        return record, []  # already in the stream: nothing to publish

    return change


async def check(
    js: JetStreamContext,
    store: RecordStore,
    contacts: ContactStore,
    until: int,
    settled: int | None = None,
) -> Repair:
    """Check every event after the watermark up to `until` against the records, rebuild
    the tickets that lack one, then move the watermark to `settled` (default `until`:
    what the records must fully reflect), unless Redis went back meanwhile: then the
    next check starts from where it went back to."""
    settled = until if settled is None else min(settled, until)
    raw = await store.redis.get(WATERMARK)
    seen = int(raw) if raw else 0
    after = seen if seen <= until else 0  # a watermark past the stream: the stream is new
    if after >= until:
        return Repair()
    wrong = await suspects(js, store, after, until, settled)
    result = Repair()
    if wrong:
        rebuilt = await fold(js, contacts, until, wrong)
        result = await repair(
            store,
            rebuilt,
            wrong,
            write=True,
            refold=lambda behind: fold(js, contacts, until, behind, keep_events=True),
        )
        log.warning(
            "records_rebuilt",
            missing=len(result.missing),
            behind=len(result.behind),
            unrebuildable=sorted(result.unrebuildable),
        )
    if settled > after:
        await _advance(store.redis, raw, settled)
    return result


async def _advance(redis: Redis, seen: bytes | str | None, until: int) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(WATERMARK)
            if await pipe.get(WATERMARK) != seen:
                return  # another replica moved it, or Redis went back: look again next time
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(WATERMARK, until)
            await pipe.execute()
        except WatchError:
            return


async def settled_until(js: JetStreamContext) -> tuple[int, int]:
    """The stream's last sequence, and the one up to which the intake-records consumer
    has folded everything (intake's own events are in Redis before they are published)."""
    return await stream_reader.acknowledged_until(js, STREAM, INTAKE_RECORDS.name)


async def id_floor(js: JetStreamContext, redis: Redis, day: str) -> int:
    """The highest sequence of `day` already used, for a day the id bucket has not seen:
    the old Redis counter (upgrading) and the last reports of the day in TICKETS."""
    highest = int(await redis.get(legacy_sequence_key(day)) or 0)
    for subject in (
        subjects.ticket_event(TicketSubmitted.kind),
        subjects.ticket_event(ReportLinked.kind),
    ):
        try:
            message = await js.get_last_msg(STREAM, subject)
        except NotFoundError:
            continue
        if message.data is None:
            continue
        try:
            event = parse_event(message.data)
        except ValidationError:
            continue
        for ticket_id in (event.ticket_id, getattr(event, "duplicate_ticket_id", "")):
            highest = max(highest, sequence_of(ticket_id, day) or 0)
    return highest


async def before_serving(intake: "Intake", settings: IntakeSettings) -> None:
    """Open the id authority and the contact store and bring the records up to the
    stream (a start-up step of chuishao.intake.bootstrap; `check_now` then runs every
    `record_check_seconds` while intake runs)."""
    js, store = intake.js, intake.store
    store.ids = await TicketIds.open(
        js,
        lambda day: id_floor(js, store.redis, day),
        block=settings.ticket_id_block,
        replicas=settings.stream_replicas,
    )
    keys = settings.contact_store_key
    intake.contacts = contacts = await ContactStore.open(
        js,
        load_keys(keys.get_secret_value() if keys else None, settings.data_dir),
        replicas=settings.stream_replicas,
    )
    # Before the consumer starts: what other services published while intake was away
    # is the consumer's to fold; the check needs only that those tickets exist.
    await check(js, store, contacts, *await settled_until(js))


async def check_now(intake: "Intake") -> None:
    """While intake runs: a Redis rolled back under it is repaired within one round."""
    if intake.contacts is None:
        raise RuntimeError("the contact store opens at start-up")
    await check(intake.js, intake.store, intake.contacts, *await settled_until(intake.js))


@dataclass
class RebuildSummary:
    """What one rebuild (or one shard of it) found and did."""

    until: int
    events: int
    skipped: int
    tickets: int
    missing: list[str]
    behind: list[str]
    unrebuildable: dict[str, str]
    written: int

    def merged(self, other: "RebuildSummary") -> "RebuildSummary":
        # Every shard reads the whole stream: the events are counted once.
        return RebuildSummary(
            until=self.until,
            events=max(self.events, other.events),
            skipped=max(self.skipped, other.skipped),
            tickets=self.tickets + other.tickets,
            missing=sorted(self.missing + other.missing),
            behind=sorted(self.behind + other.behind),
            unrebuildable=self.unrebuildable | other.unrebuildable,
            written=self.written + other.written,
        )


async def rebuild_shard(
    settings: IntakeSettings, write: bool, until: int | None = None, shard: Shard | None = None
) -> RebuildSummary:
    """Fold the stream up to `until` (default: its end) for every ticket or one shard of
    them, compare with Redis and, with `write`, add what Redis lacks."""
    connection = await nats.connect(settings.nats_servers)
    redis = redis_client(settings)
    try:
        js = connection.jetstream()
        keys = settings.contact_store_key
        contacts = await ContactStore.open(
            js, load_keys(keys.get_secret_value() if keys else None, settings.data_dir)
        )
        until = await last_sequence(js) if until is None else until
        rebuilt = await fold(js, contacts, until, shard=shard)
        report = await repair(
            RecordStore(redis),
            rebuilt,
            rebuilt.tickets(),
            write=write,
            refold=lambda behind: fold(js, contacts, until, behind, keep_events=True),
        )
        return RebuildSummary(
            until=until,
            events=rebuilt.events,
            skipped=rebuilt.skipped,
            tickets=len(rebuilt),
            missing=report.missing,
            behind=report.behind,
            unrebuildable=rebuilt.unrebuildable | report.unrebuildable,
            written=report.written,
        )
    finally:
        await redis.aclose()
        await connection.close()


async def _in_processes(settings: IntakeSettings, write: bool, workers: int) -> RebuildSummary:
    """The shards folded side by side, each by a process of its own (one core each):
    every shard reads the whole stream, but folds, compares and writes only its tickets."""
    until = await _last_sequence(settings)
    command = [sys.executable, "-m", "chuishao.intake.rebuild", "--until", str(until)]
    # The workers read their settings from the environment: these, as this process has them.
    env = {f"{ENV_PREFIX}{name.upper()}": value for name, value in _shared(settings).items()}
    children = [
        await asyncio.create_subprocess_exec(
            *command,
            "--shard",
            f"{index}/{workers}",
            *(["--write"] if write else []),
            stdout=asyncio.subprocess.PIPE,
            env=os.environ | env,
        )
        for index in range(workers)
    ]
    # Read together: a worker whose output filled its pipe would wait for the one before.
    said = await asyncio.gather(*(child.communicate() for child in children))
    outcome: RebuildSummary | None = None
    for child, (out, _) in zip(children, said, strict=True):
        if child.returncode != 0:
            raise RuntimeError(f"a rebuild shard failed ({child.returncode})")
        shard = RebuildSummary(**json.loads(out.decode().strip().splitlines()[-1]))
        outcome = shard if outcome is None else outcome.merged(shard)
    assert outcome is not None  # workers ≥ 2
    return outcome


# What a rebuild reads of its settings: the servers, and where the contact store's key is.
_REBUILD_SETTINGS = (
    "nats_url",
    "redis_url",
    "redis_sentinels",
    "redis_sentinel_master",
    "redis_max_connections",
    "redis_pool_timeout_seconds",
    "redis_retries",
    "data_dir",
)


def _shared(settings: IntakeSettings) -> dict[str, str]:
    """The settings a worker needs, as its environment holds them (the key unwrapped)."""
    shared = {name: str(getattr(settings, name)) for name in _REBUILD_SETTINGS}
    if settings.contact_store_key is not None:
        shared["contact_store_key"] = settings.contact_store_key.get_secret_value()
    return shared


async def _last_sequence(settings: IntakeSettings) -> int:
    connection = await nats.connect(settings.nats_servers)
    try:
        return await last_sequence(connection.jetstream())
    finally:
        await connection.close()


async def run(settings: IntakeSettings, write: bool, workers: int = 1) -> int:
    if workers > 1:
        outcome = await _in_processes(settings, write, workers)
    else:
        outcome = await rebuild_shard(settings, write)
    print(
        f"重放 replayed {outcome.events} events up to sequence {outcome.until} "
        f"({outcome.skipped} of unknown types skipped): {outcome.tickets} tickets"
        + (f", {workers} processes" if workers > 1 else "")
    )
    for label, ids in (("缺失 missing", outcome.missing), ("落后 behind", outcome.behind)):
        if ids:
            print(f"  {label}: {len(ids)}: {' '.join(ids[:50])}")
    for ticket_id, why in sorted(outcome.unrebuildable.items()):
        print(f"  无法重建 cannot rebuild {ticket_id}: {why}")
    if write:
        print(f"写入 written: {outcome.written}")
        redis = redis_client(settings)
        try:
            await _advance(redis, await redis.get(WATERMARK), outcome.until)
        finally:
            await redis.aclose()
    problems = len(outcome.missing) + len(outcome.behind)
    print("记录与事件流一致 records agree with the stream" if not problems else "")
    return 0 if not problems or write else 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chuishao.intake.rebuild", description=__doc__)
    parser.add_argument("--write", action="store_true", help="write the missing and behind records")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        help="processes folding a shard of the tickets each (default: the CPUs, at most 4)",
    )
    parser.add_argument("--shard", type=Shard.parse, help=argparse.SUPPRESS)  # K/N: one worker
    parser.add_argument("--until", type=int, help=argparse.SUPPRESS)  # the workers' common end
    args = parser.parse_args(argv)
    settings = IntakeSettings()
    packing.configure(packed=settings.packed_values)  # write what the replicas can read
    packing.check_dictionaries()
    if args.shard is not None:  # a worker of `--workers`: its outcome as one JSON line
        outcome = asyncio.run(rebuild_shard(settings, args.write, args.until, args.shard))
        print(json.dumps(dataclasses.asdict(outcome)))
        return
    sys.exit(asyncio.run(run(settings, args.write, max(args.workers, 1))))


if __name__ == "__main__":
    main()
