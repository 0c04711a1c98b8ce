"""Erasing residents' contacts once they have served (个人信息保护法: kept no longer than
the purpose needs).

A reporter's name and phone serve the SMS and the callback. After the ticket closes —
or its rating window ends without a rating — and a retention period (settings
`rating_window_days`, `contact_retention_days`; docs/intake.md "Retention"), a periodic
sweep erases them from the record and from the contact store, keeping `reporter_ref`
(the keyed pseudonym the statistics use). The erasure is written in the history without
the data. The sweep reads the business clock, so a test or a demo that moves the clock
forward sees contacts erased.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import structlog

from chuishao.common.clock import Clock
from chuishao.common.events import Event
from chuishao.common.ids import derived_id
from chuishao.intake import indexes
from chuishao.intake.lifecycle import Status
from chuishao.intake.records import HistoryEntry, TicketRecord
from chuishao.intake.store import RecordStore

log = structlog.get_logger()

PAGE = 500
ERASED = "retention:erased"  # ticket ids whose contact is gone (the sweep skips them)
ERASURE_TYPE = "ContactErased"
ERASURE_SUMMARY = "报告人姓名和电话已按保留期限删除 reporter's name and phone erased (retention)"
# The statuses after which a contact can expire; any other ticket is still being handled.
ENDED = (Status.CLOSED, Status.RESOLVED, Status.LINKED)

# Other stores holding the contact (the encrypted contact store) register an eraser:
# called with the ticket id, after the record's contact is gone.
Eraser = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class RetentionPolicy:
    rating_window: timedelta
    retention: timedelta


def ended_at(record: TicketRecord, policy: RetentionPolicy) -> datetime | None:
    """When the contact stopped being needed: the close, or the end of the rating window
    of a resolved ticket nobody rated. None while the ticket is still being handled."""
    if record.status == Status.CLOSED:
        closes = [entry.at for entry in record.history if entry.type == "TicketClosed"]
        return max(closes) if closes else record.updated_at
    if record.status == Status.RESOLVED and record.resolution is not None:
        return record.resolution.resolved_at + policy.rating_window
    return None


async def expiry(
    store: RecordStore, record: TicketRecord, policy: RetentionPolicy
) -> datetime | None:
    """When this record's contact is to be erased (None: not yet known)."""
    ended = ended_at(record, policy)
    if record.status == Status.LINKED and record.linked_to is not None:
        # A linked report's reporter is told when the ticket it follows is handled.
        primary = await store.get(record.linked_to)
        ended = ended_at(primary, policy) if primary is not None else record.updated_at
    return ended + policy.retention if ended is not None else None


def erased(record: TicketRecord, now: datetime) -> TicketRecord:
    """The record without its reporter, and a history entry saying so (nothing else)."""
    entry = HistoryEntry(
        event_id=derived_id(record.ticket_id, "contact-erased"),
        type=ERASURE_TYPE,
        at=now,
        producer="intake",
        summary=ERASURE_SUMMARY,
    )
    return record.model_copy(
        update={
            "reporter": None,
            "history": [*record.history, entry],
            "version": record.version + 1,
        }
    )


@dataclass
class Retention:
    store: RecordStore
    clock: Clock
    policy: RetentionPolicy
    erasers: list[Eraser]
    batch: int = 1000

    def add_eraser(self, eraser: Eraser) -> None:
        """The hook for another store of contacts: it forgets the ticket's reporter too."""
        self.erasers.append(eraser)

    async def erase(self, ticket_id: str) -> bool:
        """Erase one ticket's contact everywhere, now (retention, or a resident's request).
        True if the record still held one."""
        now = self.clock.now()
        held = False

        def change(record: TicketRecord) -> tuple[TicketRecord, list[Event]]:
            nonlocal held
            held = record.reporter is not None
            return (erased(record, now) if held else record), []

        await self.store.change(ticket_id, change)
        for eraser in self.erasers:  # also when the record had none (a rebuilt record)
            await eraser(ticket_id)
        await self.store.redis.sadd(ERASED, ticket_id)
        return held

    async def sweep(self) -> int:
        """Erase every contact past its retention, up to `batch` a round; returns how
        many were erased."""
        now = self.clock.now()
        # A contact expires `retention` after submission at the earliest: older only.
        oldest = (now - self.policy.retention).timestamp()
        count = 0
        for status in ENDED:
            offset = 0
            while count < self.batch:
                found = cast(
                    "list[bytes]",
                    await self.store.redis.zrangebyscore(
                        indexes.status_key(status), "-inf", oldest, start=offset, num=PAGE
                    ),
                )
                if not found:
                    break
                offset += len(found)
                page = [member.decode() for member in found]
                done = await self.store.redis.smismember(ERASED, page)
                for ticket_id, already in zip(page, done, strict=True):
                    if not already and count < self.batch and await self._due(ticket_id, now):
                        count += await self.erase(ticket_id)
        if count:
            log.info("contacts_erased", count=count)
        return count

    async def _due(self, ticket_id: str, now: datetime) -> bool:
        record = await self.store.get(ticket_id)
        if record is None:
            return False
        due = await expiry(self.store, record, self.policy)
        return due is not None and due <= now
