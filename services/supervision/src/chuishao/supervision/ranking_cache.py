"""The big screen's ranking, kept a few seconds per (streets, month).

Every open screen's live stream re-reads its board every `board_refresh_seconds`, and the
ranking of the month (both months' unit rows, scored) is the dearest part of it: 20–27 ms
a read. Ten wall screens of one district would read the same ranking ten times a second;
here they share one read per `ttl_seconds`, and screens asking at the same moment wait on
the one read in flight instead of starting their own.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from chuishao.supervision.assessment import RankedRow

# (the viewer's streets, sorted, or None for everything; the month "YYYY-MM")
Key = tuple[tuple[str, ...] | None, str]
DEFAULT_TTL_SECONDS = 5.0
# Past this many kept entries (scopes × months) the expired ones are dropped.
MAX_ENTRIES = 256


@dataclass
class RankingCache:
    ttl_seconds: float = DEFAULT_TTL_SECONDS
    now: Callable[[], float] = time.monotonic
    _entries: dict[Key, tuple[float, "asyncio.Future[list[RankedRow]]"]] = field(
        default_factory=dict
    )

    async def get(
        self, key: Key, read: Callable[[], Awaitable[list[RankedRow]]]
    ) -> list[RankedRow]:
        """The ranking under `key`: kept if read less than `ttl_seconds` ago (or being read
        now), else read afresh. A failed read is not kept."""
        at = self.now()
        kept = self._entries.get(key)
        if kept is not None and at - kept[0] < self.ttl_seconds:
            return await asyncio.shield(kept[1])
        future: asyncio.Future[list[RankedRow]] = asyncio.get_running_loop().create_future()
        self._entries[key] = (at, future)
        self._drop_expired(at)
        try:
            rows = await read()
        except Exception as error:
            self._entries.pop(key, None)
            future.set_exception(error)
            future.exception()  # retrieved: a failure nobody else awaited is not logged
            raise
        except BaseException:  # cancelled: those waiting on this read ask again
            self._entries.pop(key, None)
            future.cancel()
            raise
        future.set_result(rows)
        return rows

    def _drop_expired(self, at: float) -> None:
        if len(self._entries) <= MAX_ENTRIES:
            return
        for key in [k for k, (t, _) in self._entries.items() if at - t >= self.ttl_seconds]:
            del self._entries[key]
