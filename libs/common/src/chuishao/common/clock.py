"""Time as a dependency, so tests and demos can move it instead of sleeping."""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import structlog

# No Redis import at run time: the shared clock is handed its client, and the domain
# cores that name `Clock` must not reach a Redis client through this module.
if TYPE_CHECKING:
    from redis.asyncio import Redis

    from chuishao.common.settings import ServiceSettings


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = moment


# --- one clock for the whole stack, so tests and demos can let 48 hours pass in seconds

OFFSET_KEY = "clock:offset_seconds"
REFRESH_SECONDS = 0.2


class SharedClock:
    """Real time plus an offset kept in Redis (`clock:offset_seconds`).

    Every process of the stack reads the same offset, so moving it once moves the whole
    system: deadlines fall due, and event times agree across services. The offset is
    re-read every `refresh_seconds`; `now()` stays synchronous and never touches Redis.
    """

    def __init__(self, redis: "Redis", refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.redis = redis
        self.refresh_seconds = refresh_seconds
        self._offset = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def offset_seconds(self) -> float:
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    async def refresh(self) -> None:
        raw = await self.redis.get(OFFSET_KEY)
        self._offset = float(raw) if raw is not None else 0.0

    async def start(self) -> None:
        await self.refresh()
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._follow(), name="shared-clock")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            # A flag as well as a cancel: the Redis client can turn a cancellation in the
            # middle of a command into an error of its own, which would swallow it.
            self._stopping.set()
            task.cancel()
            await asyncio.wait([task], timeout=5)

    async def _follow(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.refresh_seconds)
                return
            try:
                await self.refresh()
            except Exception as error:  # noqa: BLE001 - Redis away, whatever its error
                # Keep the last known offset: time still flows while Redis is away.
                structlog.get_logger().warning("shared_clock_refresh_failed", error=repr(error))


async def advance_shared_clock(redis: "Redis", seconds: float) -> float:
    """Move the whole stack's clock by `seconds`; returns the new offset."""
    return float(await redis.incrbyfloat(OFFSET_KEY, seconds))


async def reset_shared_clock(redis: "Redis") -> None:
    await redis.delete(OFFSET_KEY)


def make_clock(settings: "ServiceSettings", redis: "Redis") -> Clock:
    """The clock a service runs on (`CHUISHAO_CLOCK`). A `SharedClock` must be started
    (`await start_clock(clock)`) in the service's start-up, and stopped at shutdown."""
    if settings.clock == "shared":
        return SharedClock(redis)
    return SystemClock()


async def start_clock(clock: Clock) -> None:
    if isinstance(clock, SharedClock):
        await clock.start()


async def stop_clock(clock: Clock) -> None:
    if isinstance(clock, SharedClock):
        await clock.stop()
