"""Closing a resolved ticket nobody rated once its rating window has passed (回访 ends
with "no rating"; docs/intake.md "The rating window").

A resolved ticket waits for the resident's rating for `rating_window_days` (settings; a
category may have its own, `rating_window_days_by_category`), counted from its latest
resolution. Then a periodic sweep closes it with `CloseTicket(reason=
"feedback_window_elapsed")`, through the same use case every command takes
(`Intake.execute`: decide, store with the event, publish), acting as intake itself with
a supervisor's right to close (`SYSTEM`). Supervision counts such a ticket as closed
without a rating, never as satisfied.

`due` is the decision, pure: records, now and the policy in, the records to close out.
`FeedbackWindow.sweep` finds the candidates through the status index and closes them; it
is idempotent — a ticket closed already has left the resolved index, and a close that
loses a race (a rating, another replica's close) is a refusal it swallows.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import structlog

from chuishao.common.commands import CloseTicket
from chuishao.intake import indexes
from chuishao.intake.lifecycle import PRODUCER, Actor, CommandRejected, Status
from chuishao.intake.records import TicketRecord
from chuishao.intake.scopes import EVERYWHERE
from chuishao.intake.service import Intake

log = structlog.get_logger()

REASON = "feedback_window_elapsed"
PAGE = 200  # candidates read from the index per round trip
# Intake closing on its own account: closing is a supervisor's command, and the window's
# close concerns every ticket, so it acts with the city level's scope. No person is
# recorded: nobody acted.
SYSTEM = Actor("supervisor", PRODUCER, EVERYWHERE)


@dataclass(frozen=True)
class WindowPolicy:
    """How long a resolved ticket waits for its rating: `default`, or its category's."""

    default: timedelta
    by_category: Mapping[str, timedelta] = field(default_factory=dict)

    @classmethod
    def in_days(cls, default: float, by_category: Mapping[str, float]) -> "WindowPolicy":
        return cls(
            timedelta(days=default),
            {code: timedelta(days=days) for code, days in by_category.items()},
        )

    def window(self, category: str | None) -> timedelta:
        if category is None:
            return self.default
        return self.by_category.get(category, self.default)

    @property
    def shortest(self) -> timedelta:
        return min([self.default, *self.by_category.values()])


def rated_since_resolution(record: TicketRecord) -> bool:
    """A rating after the latest resolution (one of an earlier cycle, which reopened the
    ticket, does not count: the new resolution waits for a rating of its own)."""
    types = [entry.type for entry in record.history]
    resolved = max((i for i, kind in enumerate(types) if kind == "TicketResolved"), default=-1)
    return "TicketRated" in types[resolved + 1 :]


def window_ends(record: TicketRecord, policy: WindowPolicy) -> datetime | None:
    """When this ticket's rating window ends; None unless it is resolved and unrated."""
    if record.status != Status.RESOLVED or record.resolution is None:
        return None
    if rated_since_resolution(record):
        return None
    return record.resolution.resolved_at + policy.window(record.category)


def due(records: Iterable[TicketRecord], now: datetime, policy: WindowPolicy) -> list[TicketRecord]:
    """The records whose rating window has passed without a rating, in the order given."""
    result = []
    for record in records:
        ends = window_ends(record, policy)
        if ends is not None and ends <= now:
            result.append(record)
    return result


@dataclass
class FeedbackWindow:
    intake: Intake
    policy: WindowPolicy
    batch: int = 1000  # closes per sweep at most; a full batch runs again at once
    page: int = PAGE

    async def sweep(self) -> int:
        """Close every resolved, unrated ticket past its window (up to `batch`); returns
        how many this sweep closed."""
        store = self.intake.store
        now = self.intake.clock.now()
        # The index is scored by submission, and a ticket is resolved after it was
        # submitted: one submitted after `now - shortest window` cannot be due yet.
        newest = (now - self.policy.shortest).timestamp()
        closed = 0
        offset = 0  # candidates seen that stay in the index (not yet due)
        while closed < self.batch:
            found = cast(
                "list[bytes]",
                await store.redis.zrangebyscore(
                    indexes.status_key(Status.RESOLVED), "-inf", newest, start=offset, num=self.page
                ),
            )
            if not found:
                break
            records = await store.get_many([member.decode() for member in found])
            left = len(found)
            for record in due(records, now, self.policy)[: self.batch - closed]:
                if await self.close(record):
                    closed += 1
                    left -= 1  # it has left the resolved index: the next page moves up
            offset += left
        return closed

    async def close(self, record: TicketRecord) -> bool:
        """Close one ticket whose window passed; False if it changed meanwhile (rated,
        closed already, another close first): nothing is written then."""
        command = CloseTicket(
            ticket_id=record.ticket_id, reason=REASON, expected_version=record.version
        )
        try:
            await self.intake.execute(command, SYSTEM)
        except CommandRejected as refusal:
            log.debug("feedback_window_close_skipped", ticket_id=record.ticket_id, why=refusal.code)
            return False
        resolution = record.resolution
        assert resolution is not None  # due() only returns resolved records
        # Ids, category and times only: nothing of the reporter or of what they wrote.
        log.info(
            "ticket_closed_unrated",
            ticket_id=record.ticket_id,
            category=record.category,
            resolved_at=resolution.resolved_at.isoformat(),
            window_days=self.policy.window(record.category).total_seconds() / 86400,
        )
        return True
