"""Start-up steps that ride through a server restart.

A service (re)started while nats-server restarts finds its JetStream requests timing
out for a second or two; before, that failed the start-up and the process exited, so its
consumer's backlog grew until someone noticed (the fault suite did). The shared start-up
calls — declaring streams and consumers, opening and publishing the read-model buckets —
are idempotent, so they are simply tried again.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import nats.errors
import nats.js.errors
import structlog
from redis.exceptions import AuthenticationError, AuthorizationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger()
Result = TypeVar("Result")

TRANSIENT = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.js.errors.ServiceUnavailableError,
    # JetStream not answering yet for a stream (a restarted server recovering its streams).
    nats.js.errors.NoStreamResponseError,
    TimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
)

# Subclasses of redis-py's ConnectionError that no retry can mend.
PERMANENT = (AuthenticationError, AuthorizationError)


def backoff(first: float = 0.2, cap: float = 5.0) -> Iterator[float]:
    """Waits between tries: doubling from `first`, then `cap` for ever."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


async def retried(
    step: Callable[[], Awaitable[Result]], what: str, *, give_up_after: float = 60.0
) -> Result:
    """`step()` again, with back-off, while it fails transiently; then its last error."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    for delay in backoff():
        try:
            return await step()
        except PERMANENT:
            raise  # a wrong password is a ConnectionError to redis-py, and never passes
        except TRANSIENT as error:
            task = asyncio.current_task()
            # A library may turn a cancellation into a timeout: being cancelled wins.
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from error
            if loop.time() + delay > deadline:
                raise
            log.warning("start_up_step_retried", step=what, error=repr(error), retry_in_s=delay)
        await asyncio.sleep(delay)
    raise AssertionError("unreachable: back-off never ends")
