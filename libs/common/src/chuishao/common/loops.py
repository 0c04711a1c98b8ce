"""Background loops: periodic relays, sweeps, checks and watchers, written once.

Each loop runs one step, then waits its interval; a step that fails is logged and the
loop backs off (`chuishao.common.transient.backoff`, from the interval up to
`max_backoff`) until a step succeeds again. A step that returns True has more work at
hand and is run again at once (the sla timers claim in batches).

Stopping sets a flag and cancels the task: some client libraries turn a cancellation
inside a request into their own timeout error, swallowing it, so the loop also ends
at its next check of the flag.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

import structlog

from chuishao.common.transient import backoff

log = structlog.get_logger()
Step = Callable[[], Awaitable[bool | None]]


class Loop:
    """`step` every `interval` seconds until stopped (`every(...)` builds one)."""

    def __init__(
        self,
        name: str,
        step: Step,
        interval: float | Callable[[], float],
        *,
        wait_first: bool = False,
        max_backoff: float = 5.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.step = step
        self._interval = interval
        self.wait_first = wait_first
        self.max_backoff = max_backoff
        self.stop_timeout = stop_timeout
        self.failures = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def interval(self) -> float:
        return self._interval() if callable(self._interval) else self._interval

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=self.stop_timeout)
        if not done:
            log.error("loop_did_not_stop", loop=self.name, timeout_s=self.stop_timeout)

    async def idle(self, seconds: float) -> None:
        """Wait, but no longer than until the loop is asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _run(self) -> None:
        delays: Iterator[float] | None = None
        if self.wait_first:
            await self.idle(self.interval)
        while not self._stopping.is_set():
            try:
                more = await self.step()
            except Exception as error:  # Redis or NATS away: try again later
                task = asyncio.current_task()
                # A library may turn a cancellation into its own error: being cancelled wins.
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from error
                self.failures += 1
                if delays is None:
                    delays = backoff(self.interval, max(self.interval, self.max_backoff))
                delay = next(delays)
                log.warning("loop_step_failed", loop=self.name, error=repr(error), retry_in_s=delay)
                await self.idle(delay)
                continue
            delays = None
            if more is not True:
                await self.idle(self.interval)


def every(
    interval: float | Callable[[], float],
    step: Step,
    *,
    name: str,
    wait_first: bool = False,
    max_backoff: float = 5.0,
) -> Loop:
    """A loop running `step` every `interval` seconds, not started yet."""
    return Loop(name, step, interval, wait_first=wait_first, max_backoff=max_backoff)
